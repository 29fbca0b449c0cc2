// Cloudflare Workers / workerd: compiling wasm from bytes is forbidden, so the
// module is imported (bundlers and wrangler turn this into a compiled module).
// @ts-expect-error: TypeScript has no type for a .wasm import (a WebAssembly.Module here).
import wasmModule from "../threetone_webhooks_bg.wasm";
import { initSync } from "../glue.mjs";

initSync({ module: wasmModule });
