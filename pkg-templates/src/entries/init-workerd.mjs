// Cloudflare Workers / workerd: compiling wasm from bytes is forbidden, so the
// module is imported (bundlers and wrangler turn this into a compiled module).
import wasmModule from "../threetone_webhooks_bg.wasm";
import { initSync } from "../glue.mjs";

initSync({ module: wasmModule });
