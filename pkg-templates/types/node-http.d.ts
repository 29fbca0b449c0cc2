import type { IncomingMessage, ServerResponse } from "node:http";
import type { Options, Secret, ThreeToneEvent } from "threetone-webhooks";

export interface NodeHandlerOptions extends Options {
  secret: Secret;
  /** Called with the verified event; answers 200 afterwards unless it answered itself. */
  onEvent?: (event: ThreeToneEvent, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** Larger bodies get 413 (a declared Content-Length unread, a streamed body cut at the limit). Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Called when handling fails for another reason than the request (`onEvent` threw or rejected): the request
   * was answered 500 if nothing was sent yet. Default: `console.error` of the error (never the body or the secret).
   * An upload the client abandoned is dropped without calling it.
   */
  onError?: (error: unknown, req: IncomingMessage) => void;
}

/** A `(req, res)` handler for Node's http server. Its promise never rejects. */
export declare function createNodeHandler(options: NodeHandlerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
