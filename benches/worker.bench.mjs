// Benchmark (not a test): what the edge adds per verified forward, against a
// pass-through worker to the same origin, in the same workerd, in the same run.
// Bounded load on 127.0.0.1 only. Also prints the upload size reported by
// `wrangler deploy --dry-run`. Run with `cargo xtask bench` (it builds first).
//
// Options: --requests N (sequential, per worker; default 2000), --concurrency C (default 16),
// --previous DIR (another build of the Worker: a worker/ directory with entry.mjs, build/ and
// wrangler.toml, run as one more worker, to compare builds in the same run).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { EDGE_SCRIPT, ROOT, baseVars, event, sign, startOrigin } from "../tests/worker/harness.mjs";
import { createRequire } from "node:module";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "16" },
    previous: { type: "string" },
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const { Miniflare } = await import(createRequire(`${ROOT}worker/package.json`).resolve("miniflare"));

// The baseline: forwards the body to the origin and answers with its status.
const PASS_THROUGH = `export default {
  async fetch(request, env) {
    const response = await fetch(env.ORIGIN_URL, {
      method: "POST",
      body: await request.arrayBuffer(),
      headers: { "content-type": "application/json", "x-threetone-signature": request.headers.get("x-threetone-signature") ?? "" },
    });
    return new Response(JSON.stringify({ status: response.status }), { status: response.status });
  },
};`;

// The floor of idempotency: the same pass-through plus one RPC round trip to
// a SQLite-backed Durable Object that records the event's signature.
const PASS_THROUGH_ONE_DO_CALL = `import { DurableObject } from "cloudflare:workers";
export class Seen extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY)");
  }
  claim(key) {
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO seen (key) VALUES (?)", key);
  }
}
export default {
  async fetch(request, env) {
    const signature = request.headers.get("x-threetone-signature") ?? "";
    const stub = env.SEEN.get(env.SEEN.idFromName("shard-" + signature.slice(-1)));
    await stub.claim(signature);
    const response = await fetch(env.ORIGIN_URL, {
      method: "POST",
      body: await request.arrayBuffer(),
      headers: { "content-type": "application/json", "x-threetone-signature": signature },
    });
    return new Response(JSON.stringify({ status: response.status }), { status: response.status });
  },
};`;

// The fair peer: the same gateway written the usual way in JavaScript. It
// verifies with crypto.subtle (the key imported once), checks `event` with
// JSON.parse, claims and settles the body's SHA-256 in a SQLite Durable
// Object with the edge's statements (a read and an upsert to claim, one
// upsert to settle), and forwards the same headers.
const JS_GATEWAY = `import { DurableObject } from "cloudflare:workers";
const encoder = new TextEncoder();
let key;
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
export class Claims extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, state TEXT NOT NULL, since_ms INTEGER NOT NULL, attempts INTEGER NOT NULL, expires_ms INTEGER NOT NULL)");
  }
  claim(id, now) {
    const sql = this.ctx.storage.sql;
    const entry = sql.exec("SELECT state, since_ms, attempts FROM deliveries WHERE key = ? AND expires_ms > ?", id, now).toArray()[0];
    if (entry?.state === "delivered") return "duplicate";
    if (entry?.state === "in_flight" && now < entry.since_ms + 15000) return "in_flight";
    sql.exec("INSERT INTO deliveries (key, state, since_ms, attempts, expires_ms) VALUES (?, 'in_flight', ?, ?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, attempts = excluded.attempts, expires_ms = excluded.expires_ms", id, now, (entry?.attempts ?? 0) + 1, now + 86400000);
    return "acquired";
  }
  settle(id, delivered, now) {
    this.ctx.storage.sql.exec("INSERT INTO deliveries (key, state, since_ms, attempts, expires_ms) VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, attempts = CASE WHEN deliveries.expires_ms > ?3 THEN deliveries.attempts ELSE 1 END, expires_ms = excluded.expires_ms", id, delivered ? "delivered" : "failed", now, now + 86400000);
  }
}
export default {
  async fetch(request, env, ctx) {
    key ??= await crypto.subtle.importKey("raw", encoder.encode(env.WEBHOOK_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    const body = await request.arrayBuffer();
    const header = request.headers.get("x-threetone-signature") ?? "";
    const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
    const signature = match && Uint8Array.from(match[1].match(/../g), (pair) => parseInt(pair, 16));
    if (!signature || !(await crypto.subtle.verify("HMAC", key, signature, body))) return Response.json({ error: "invalid_signature" }, { status: 401 });
    let name = "";
    try { name = JSON.parse(new TextDecoder().decode(body)).event ?? ""; } catch {}
    const id = hex(await crypto.subtle.digest("SHA-256", body));
    const claims = env.CLAIMS.get(env.CLAIMS.idFromName("claims"));
    const claim = await claims.claim(id, Date.now());
    if (claim === "duplicate") return Response.json({ status: "duplicate" });
    if (claim === "in_flight") return Response.json({ error: "in_flight" }, { status: 503 });
    const response = await fetch(env.ORIGIN_URL, { method: "POST", body, headers: { "content-type": "application/json", "x-threetone-signature": header, "x-threetone-event": name, "x-threetone-delivery-id": "dlv_" + id.slice(0, 32), "x-request-id": crypto.randomUUID() } });
    await response.arrayBuffer();
    ctx.waitUntil(claims.settle(id, response.ok, Date.now()));
    return Response.json({ status: response.ok ? "delivered" : "origin_error" }, { status: response.ok ? 200 : 502 });
  },
};`;

const origin = await startOrigin();

/** A previous build, as Miniflare loads it, with the Durable Objects its wrangler.toml binds. */
function previousBuild(dir) {
  const toml = readFileSync(join(dir, "wrangler.toml"), "utf8");
  const bindings = [...toml.matchAll(/\[\[durable_objects\.bindings\]\]\s*name = "(\w+)"\s*class_name = "(\w+)"/g)];
  return {
    name: "edge, previous build",
    ...EDGE_SCRIPT,
    scriptPath: join(dir, "entry.mjs"),
    modulesRoot: dir,
    durableObjects: Object.fromEntries(bindings.map(([, binding, className]) => [binding, { className, useSQLite: true }])),
    bindings: baseVars(origin),
  };
}

const withoutOrigin = ({ ORIGIN_URL, ...vars }) => vars;

// The same event to two destinations (the one origin, under two URLs).
const TWO_DESTINATIONS = [
  {
    path: "/webhooks/threetone",
    secrets: ["WEBHOOK_SECRET"],
    destinations: [{ name: "first", url: origin.url }, { name: "second", url: `${origin.url}?second` }],
  },
];

const mf = new Miniflare({
  workers: [
    {
      name: "edge",
      ...EDGE_SCRIPT,
      bindings: baseVars(origin),
    },
    {
      name: "edge, 2 destinations",
      ...EDGE_SCRIPT,
      bindings: { ...withoutOrigin(baseVars(origin)), ROUTES: TWO_DESTINATIONS },
    },
    ...(args.previous ? [previousBuild(args.previous)] : []),
    { name: "pass-through", modules: true, script: PASS_THROUGH, compatibilityDate: "2026-04-26", bindings: { ORIGIN_URL: origin.url } },
    {
      name: "JS gateway (subtle, 1 DO)",
      modules: true,
      script: JS_GATEWAY,
      compatibilityDate: "2026-04-26",
      bindings: { ORIGIN_URL: origin.url, WEBHOOK_SECRET: baseVars(origin).WEBHOOK_SECRET },
      durableObjects: { CLAIMS: { className: "Claims", useSQLite: true } },
    },
    {
      name: "pass-through + 1 DO RPC call",
      modules: true,
      script: PASS_THROUGH_ONE_DO_CALL,
      compatibilityDate: "2026-04-26",
      bindings: { ORIGIN_URL: origin.url },
      durableObjects: { SEEN: { className: "Seen", useSQLite: true } },
    },
  ],
  // Drained and dropped: the edge's log lines are not part of the measurement
  // (an undrained pipe would block workerd).
  handleRuntimeStdio(stdout, stderr) {
    stdout.resume();
    stderr.resume();
  },
});
await mf.ready;

/** CPU seconds used so far by workerd processes started by this process (Linux /proc). */
function workerdCpuSeconds() {
  const ticks = 100; // USER_HZ
  let total = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (comm.startsWith("workerd") && Number(fields[1]) === process.pid) total += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // the process went away
    }
  }
  return total;
}

async function run(worker, requests, duplicates = 0) {
  const target = await mf.getWorker(worker);
  // With Content-Length, as a sender of a buffered JSON body sends it
  // (Miniflare would otherwise stream it chunked).
  const send = (body) =>
    target.fetch("http://edge.test/webhooks/threetone", {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "x-threetone-signature": sign(body),
        "cf-connecting-ip": "127.0.0.1",
      },
    });
  // Unique events (each one forwarded), or with a share of redeliveries of
  // events already delivered (answered as duplicates).
  const unique = Array.from({ length: requests }, (_, i) => event("call_ended", { id: `${worker}-${duplicates}-${i}-${Math.random()}` }));
  const bodies = unique.map((body, i) => (i > 200 && Math.random() < duplicates ? unique[200 + Math.floor(Math.random() * (i - 200))] : body));
  for (const body of bodies.slice(0, 200)) await (await send(body)).arrayBuffer(); // warm-up
  const latencies = [];
  const cpuBefore = workerdCpuSeconds();
  for (const body of bodies.slice(200)) {
    const started = performance.now();
    const response = await send(body);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${worker}: status ${response.status}`);
    latencies.push(performance.now() - started);
  }
  const cpuMs = ((workerdCpuSeconds() - cpuBefore) * 1000) / latencies.length;
  const concurrentBodies = Array.from({ length: requests }, (_, i) => event("call_ended", { id: `${worker}-${duplicates}-c${i}-${Math.random()}` }));
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < concurrentBodies.length) await (await send(concurrentBodies[next++])).arrayBuffer();
    }),
  );
  const perSecond = concurrentBodies.length / ((performance.now() - started) / 1000);
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99), perSecond, cpuMs };
}

const results = {};
const WORKERS = ["pass-through", "pass-through + 1 DO RPC call", "JS gateway (subtle, 1 DO)", "edge", "edge, 2 destinations", ...(args.previous ? ["edge, previous build"] : [])];
for (const worker of [...WORKERS, ...WORKERS]) {
  // Two alternating rounds; keep each worker's better one (the machine is shared and noisy).
  const result = await run(worker, REQUESTS);
  if (!results[worker] || result.p50 < results[worker].p50) results[worker] = result;
}
// The edge against the JavaScript gateway with 30% of redeliveries.
const PEER = "JS gateway (subtle, 1 DO)";
const withDuplicates = {};
for (const worker of [PEER, "edge", PEER, "edge"]) {
  const result = await run(worker, REQUESTS, 0.3);
  if (!withDuplicates[worker] || result.p50 < withDuplicates[worker].p50) withDuplicates[worker] = result;
}
await mf.dispose();
await origin.close();

const fmt = (n, digits = 3) => n.toFixed(digits);
console.log(`\nWorker: verified forward vs pass-through, ${REQUESTS - 200} sequential + ${REQUESTS} at concurrency ${CONCURRENCY}, 1 KiB-class call_ended events`);
console.log("| worker | p50 ms | p99 ms | requests/s | workerd CPU ms/request |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.perSecond, 0)} | ${fmt(r.cpuMs)} |`);
}
const edge = results.edge;
const base = results["pass-through"];
console.log(`added by the edge: p50 +${fmt(edge.p50 - base.p50)} ms, p99 +${fmt(edge.p99 - base.p99)} ms, ` +
  `CPU +${fmt(edge.cpuMs - base.cpuMs)} ms/request, throughput ${fmt(edge.perSecond / base.perSecond, 2)}x`);
const floor = results["pass-through + 1 DO RPC call"];
console.log(`one Durable Object round trip alone adds p50 +${fmt(floor.p50 - base.p50)} ms, CPU +${fmt(floor.cpuMs - base.cpuMs)} ms/request`);
const two = results["edge, 2 destinations"];
console.log(`a second destination adds p50 +${fmt(two.p50 - edge.p50)} ms, CPU +${fmt(two.cpuMs - edge.cpuMs)} ms/request`);
for (const [label, set] of [["unique events", results], ["30% duplicates", withDuplicates]]) {
  const [ours, peer] = [set.edge, set[PEER]];
  console.log(
    `against the JavaScript gateway (${label}): p50 ${fmt(ours.p50 / peer.p50, 2)}x (${fmt(ours.p50)} vs ${fmt(peer.p50)} ms), ` +
      `CPU ${fmt(ours.cpuMs / peer.cpuMs, 2)}x (${fmt(ours.cpuMs)} vs ${fmt(peer.cpuMs)} ms), throughput ${fmt(ours.perSecond / peer.perSecond, 2)}x`,
  );
}
const previous = results["edge, previous build"];
if (previous) {
  console.log(`this build against the previous one: p50 ${fmt(edge.p50 / previous.p50, 3)}x, CPU ${fmt(edge.cpuMs / previous.cpuMs, 3)}x`);
}
console.log("(the edge's extra work per forward: verify and validate, one Durable Object call (the claim) before forwarding, and one after the answer (settlement and delivery log, not awaited))");

const outdir = mkdtempSync(join(tmpdir(), "threetone-edge-dry-run-"));
const output = execFileSync(process.execPath, [`${ROOT}worker/node_modules/wrangler/bin/wrangler.js`, "deploy", "--dry-run", "--outdir", outdir], {
  cwd: `${ROOT}worker`,
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  encoding: "utf8",
});
rmSync(outdir, { recursive: true, force: true });
const upload = output.match(/Total Upload: ([^\n]+)/);
console.log(`\nUpload (wrangler deploy --dry-run): ${upload ? upload[1] : "not reported"} (budget: 250 KiB gzip with the gateway and operations)`);
