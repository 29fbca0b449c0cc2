import type { Options, Secret, ThreeToneEvent } from "threetone-webhooks";

export interface HonoWebhookOptions extends Options {
  secret: Secret;
  /** Larger bodies get 413 (a declared Content-Length unread, a streamed body cut at the limit). Default 1 MiB. */
  maxBodyBytes?: number;
}

/** Minimal shape of Hono's Context used by the middleware. */
export interface HonoLikeContext {
  req: { raw: Request; arrayBuffer(): Promise<ArrayBuffer>; header(name: string): string | undefined };
  set(key: "threetoneEvent", value: ThreeToneEvent): void;
  json(body: unknown, status?: number): Response;
}

/** Hono middleware; the verified event is `c.get("threetoneEvent")`. */
export declare function threetoneWebhook(
  options: HonoWebhookOptions,
): (c: HonoLikeContext, next: () => Promise<void>) => Promise<Response | void>;
