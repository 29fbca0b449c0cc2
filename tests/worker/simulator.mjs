// A ThreeTone sender simulator: delivers signed events the way ThreeTone's
// documentation describes (an HTTP POST, retried per `retry_config`: after
// `retry_delay` seconds, doubling with `exponential_backoff`, capped at
// `max_delay`, on the statuses in `retry_on_status` and on network errors).
// `msPerSecond` scales the delays so tests keep the schedule but not the wait.

import { sleep } from "./harness.mjs";

/** ThreeTone's documented example `retry_config`. */
export const THREETONE_RETRY_CONFIG = Object.freeze({
  max_retries: 5,
  retry_delay: 5,
  exponential_backoff: true,
  max_delay: 300,
  retry_on_status: [500, 502, 503, 504],
});

/** Seconds before retry number `retry` (1-based). */
export function retryDelaySeconds(config, retry) {
  const factor = config.exponential_backoff ? 2 ** (retry - 1) : 1;
  return Math.min(config.retry_delay * factor, config.max_delay);
}

/**
 * Delivers one event with `post(body, signature) -> Promise<Response>`.
 * Resolves to `{ status, attempts }`; status is null if every attempt failed at the network.
 */
export async function deliver(post, body, signature, { retryConfig = THREETONE_RETRY_CONFIG, msPerSecond = 1000 } = {}) {
  let status = null;
  for (let attempt = 1; attempt <= retryConfig.max_retries + 1; attempt++) {
    try {
      const response = await post(body, signature);
      await response.arrayBuffer();
      status = response.status;
      if (!retryConfig.retry_on_status.includes(status)) return { status, attempts: attempt };
    } catch {
      status = null; // network error: retried like a 5xx
    }
    if (attempt <= retryConfig.max_retries) await sleep(retryDelaySeconds(retryConfig, attempt) * msPerSecond);
  }
  return { status, attempts: retryConfig.max_retries + 1 };
}
