// Browsers and Deno (including a plain URL import): the wasm is inlined, so
// initialization is synchronous wherever the package is loaded from.
import { initSync } from "../glue.mjs";
import { wasmBase64 } from "../wasm-inline.mjs";

const bytes = Uint8Array.from(atob(wasmBase64), (char) => char.charCodeAt(0));
initSync({ module: new WebAssembly.Module(bytes) });
