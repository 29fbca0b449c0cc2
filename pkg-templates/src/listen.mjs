// `threetone-webhooks listen`, like `stripe listen`: holds a WebSocket to a
// threetone-edge Worker's GET /listen (admin token), and forwards every event
// the Worker verified (its exact body, re-signed with a local secret) to a
// local URL, one line per event; reconnects with backoff when the connection
// drops or stops answering. Listening changes nothing the Worker's real
// destinations receive: the Worker only copies events to listeners.

import { SIGNATURE_HEADER, sign } from "threetone-webhooks";
import { HandshakeError, connectWebSocket } from "./websocket.mjs";

/** @import { WebSocketConnection } from "./websocket.mjs" */

/**
 * @typedef {object} ListenOptions
 * @property {string} edge The Worker's URL (https://, or http:// for a local one); `/listen` is appended.
 * @property {string} token The Worker's admin token.
 * @property {string} forwardTo Where to POST each event (http:// or https://).
 * @property {string} secret The secret each forwarded body is signed with.
 * @property {string[]} [events] Only these event types (asked of the Worker, and checked here too).
 * @property {(line: string) => void} [print] One line per event (standard output).
 * @property {(line: string) => void} [report] The connection's state (standard error).
 * @property {number} [pingIntervalMs] How often to send `ping` (default 20 s).
 * @property {number} [pongTimeoutMs] A connection with no message this long after a ping is dead (default 10 s).
 * @property {number} [forwardTimeoutMs] The local endpoint's limit (default 10 s).
 * @property {number[]} [backoffMs] The waits before reconnecting, the last one repeated (default 1, 2, 4, 8, 16, 30 s).
 */

/**
 * One verified event, as the Worker streams it.
 * @typedef {object} StreamedEvent
 * @property {"event"} type
 * @property {string} route
 * @property {string} event
 * @property {string | null} call_id
 * @property {string} delivery_id
 * @property {string} received_at
 * @property {string} content_type
 * @property {string} body_base64
 */

/**
 * @typedef {object} Listener
 * @property {() => Promise<void>} stop Closes the connection and stops reconnecting.
 * @property {Promise<number>} finished Resolves to the exit code: 0 once stopped, 1 when the Worker refused for good
 *   (a wrong token, no /listen there).
 */

export const DEFAULT_BACKOFF_MS = [1000, 2000, 4000, 8000, 16000, 30000];

/** The `/listen` URL of a Worker at `edge`, with the events filter. */
export function listenUrl(/** @type {string} */ edge, /** @type {string[]} */ events = []) {
  const base = new URL(edge);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  const url = new URL("listen", base);
  url.search = "";
  if (events.length > 0) url.searchParams.set("events", events.join(","));
  return url;
}

/**
 * Starts listening.
 * @param {ListenOptions} options
 * @returns {Listener}
 */
export function listen({
  edge,
  token,
  forwardTo,
  secret,
  events = [],
  print = (line) => console.log(line),
  report = (line) => console.error(line),
  pingIntervalMs = 20_000,
  pongTimeoutMs = 10_000,
  forwardTimeoutMs = 10_000,
  backoffMs = DEFAULT_BACKOFF_MS,
}) {
  const url = listenUrl(edge, events);
  const wanted = new Set(events);
  let stopping = false;
  let attempt = 0;
  /** @type {WebSocketConnection | null} */
  let connection = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retry;
  /** @type {(code: number) => void} */
  let finish = () => {};
  /** @type {Promise<number>} */
  const finished = new Promise((resolve) => (finish = resolve));
  /** @type {Set<Promise<void>>} */
  const forwarding = new Set();

  /** Reconnects after the next wait of the backoff. */
  function reconnect(/** @type {string} */ why) {
    if (stopping) return;
    const wait = backoffMs[Math.min(attempt, backoffMs.length - 1)];
    attempt += 1;
    report(`threetone-webhooks: ${why}; reconnecting in ${formatWait(wait)}`);
    retry = setTimeout(connect, wait);
  }

  async function connect() {
    retry = undefined;
    if (stopping) return;
    let socket;
    try {
      socket = await connectWebSocket(url, { headers: { authorization: `Bearer ${token}`, "user-agent": "threetone-webhooks listen" } });
    } catch (error) {
      return refused(error);
    }
    if (stopping) return socket.close(1000, "stopped");
    connection = socket;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let deadline;
    const alive = () => {
      clearTimeout(deadline);
      deadline = undefined;
    };
    const keepAlive = setInterval(() => {
      if (!socket.open) return;
      socket.send("ping");
      deadline ??= setTimeout(() => {
        report(`threetone-webhooks: no answer from ${url.host} for ${formatWait(pongTimeoutMs)} after a ping`);
        socket.terminate();
      }, pongTimeoutMs);
    }, pingIntervalMs);
    socket.on("message", (/** @type {string | Buffer} */ message) => {
      alive();
      if (typeof message !== "string" || message === "pong") return;
      let frame;
      try {
        frame = JSON.parse(message);
      } catch {
        return report(`threetone-webhooks: ignored a frame that is not JSON (${message.slice(0, 40)})`);
      }
      if (frame?.type === "hello") {
        attempt = 0;
        report(`threetone-webhooks: ready, forwarding events from ${url.origin} to ${forwardTo} (listeners: ${frame.listeners}; Ctrl-C to stop)`);
      } else if (frame?.type === "event" && (wanted.size === 0 || wanted.has(frame.event))) {
        const forwarded = forward(/** @type {StreamedEvent} */ (frame)).finally(() => forwarding.delete(forwarded));
        forwarding.add(forwarded);
      }
    });
    socket.on("close", (/** @type {number} */ code, /** @type {string} */ reason) => {
      clearInterval(keepAlive);
      alive();
      connection = null;
      if (!stopping) reconnect(`the connection to ${url.host} closed (${code}${reason ? ` ${reason}` : ""})`);
    });
  }

  /**
   * A connection that failed: retried unless the Worker refused for good.
   * @param {unknown} error
   */
  function refused(error) {
    if (!(error instanceof HandshakeError) || error.status === undefined) {
      const cause = /** @type {Error & { code?: string, cause?: Error }} */ (error);
      return reconnect(`cannot reach ${url.host}: ${cause.code ?? cause.cause?.message ?? cause.message}`);
    }
    const detail = errorCode(error.body);
    const said = `${error.status}${detail ? ` ${detail}` : ""}`;
    if (error.status === 401 || error.status === 403) {
      report(`threetone-webhooks: ${url.host} refused the admin token (${said}): check --token or THREETONE_ADMIN_TOKEN`);
      return end(1);
    }
    if (error.status === 404 || error.status === 426) {
      report(`threetone-webhooks: ${url.href} is no WebSocket listener (${said}): is --edge a threetone-edge Worker?`);
      return end(1);
    }
    reconnect(`${url.host} refused to listen (${said})`);
  }

  /**
   * POSTs one event's exact body, re-signed, to the local URL; prints its line.
   * @param {StreamedEvent} frame
   */
  async function forward(frame) {
    const body = Buffer.from(String(frame.body_base64), "base64");
    /** @type {Record<string, string>} */
    const headers = {
      "content-type": String(frame.content_type || "application/json"),
      [SIGNATURE_HEADER.toLowerCase()]: sign(body, secret),
    };
    if (isHeaderValue(frame.event)) headers["x-threetone-event"] = frame.event;
    if (isHeaderValue(frame.delivery_id)) headers["x-threetone-delivery-id"] = frame.delivery_id;
    const started = performance.now();
    let status;
    try {
      // Never elsewhere than --forward-to: a redirect is printed, not followed.
      const response = await fetch(forwardTo, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(forwardTimeoutMs) });
      await response.body?.cancel();
      status = response.status >= 300 && response.status < 400 ? `${response.status} (redirect not followed)` : String(response.status);
    } catch (thrown) {
      const error = /** @type {Error & { cause?: Error & { code?: string } }} */ (thrown);
      status = error.name === "TimeoutError" ? `timeout (${formatWait(forwardTimeoutMs)})` : `failed (${error.cause?.code ?? error.cause?.message ?? error.message})`;
    }
    const latency = Math.round(performance.now() - started);
    print(`${frame.received_at}  ${frame.event}  ${frame.call_id ?? "-"}  ${status}  ${latency} ms`);
  }

  /** @param {number} code */
  function end(code) {
    stopping = true;
    clearTimeout(retry);
    Promise.allSettled([...forwarding]).then(() => finish(code));
  }

  connect();
  return {
    finished,
    async stop() {
      const open = connection;
      end(0);
      if (open !== null) {
        const closed = new Promise((resolve) => open.once("close", resolve));
        open.close(1000, "stopped");
        await closed;
      }
      await finished;
    },
  };
}

/**
 * The `error` code of a JSON error answer, if it is one.
 * @param {string | undefined} body
 */
function errorCode(body) {
  try {
    const code = JSON.parse(body ?? "")?.error;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `value` can be sent as an HTTP header value.
 * @param {unknown} value
 * @returns {value is string}
 */
function isHeaderValue(value) {
  return typeof value === "string" && /^[\x21-\x7e]+$/.test(value);
}

/** @param {number} ms */
function formatWait(ms) {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}
