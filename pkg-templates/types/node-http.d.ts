import type { IncomingMessage, ServerResponse } from "node:http";
import type { Options, Secret, ThreeToneEvent } from "threetone-webhooks";

export interface NodeHandlerOptions extends Options {
  secret: Secret;
  /** Called with the verified event; answers 200 afterwards unless it answered itself. */
  onEvent?: (event: ThreeToneEvent, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** Larger bodies get 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** A `(req, res)` handler for Node's http server. */
export declare function createNodeHandler(options: NodeHandlerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
