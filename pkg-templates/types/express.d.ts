import type { ThreeToneEvent, Options, Secret } from "threetone-webhooks";

/** Minimal Express shapes, so the package needs no dependency on @types/express. */
export interface ExpressLikeRequest {
  get(name: string): string | undefined;
  body?: unknown;
  rawBody?: unknown;
  threetoneEvent?: ThreeToneEvent;
}
export interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  json(body: unknown): unknown;
  readonly headersSent: boolean;
}

export interface ExpressWebhookOptions<Req extends ExpressLikeRequest = ExpressLikeRequest, Res extends ExpressLikeResponse = ExpressLikeResponse>
  extends Options {
  secret: Secret;
  /** Called with the verified event; answers 200 afterwards unless it answered itself. Without it, `next()` is called. */
  onEvent?: (event: ThreeToneEvent, req: Req, res: Res) => void | Promise<void>;
  /** Larger bodies get 413 (a declared Content-Length unread, a streamed body cut at the limit). Default 1 MiB. */
  maxBodyBytes?: number;
}

/** Express middleware that verifies, parses and validates the webhook. */
export declare function threetoneWebhook<Req extends ExpressLikeRequest, Res extends ExpressLikeResponse>(
  options: ExpressWebhookOptions<Req, Res>,
): (req: Req, res: Res, next: (error?: unknown) => void) => Promise<void>;

/** For `express.json({ verify: rawBodySaver })`: keeps the raw body on `req.rawBody`. */
export declare function rawBodySaver(req: unknown, res: unknown, buffer: Uint8Array): void;
