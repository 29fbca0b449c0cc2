// Browsers and Deno (including a plain URL import): the wasm is inlined, so
// it loads wherever the package is loaded from. It is gzipped to keep the
// package small; the module finishes loading (top-level await) only once the
// wasm is ready, so every API call after the import is synchronous.
import { initSync } from "../glue.mjs";
import { wasmGzipBase64 } from "../wasm-inline.mjs";

const gzipped = Uint8Array.from(atob(wasmGzipBase64), (char) => char.charCodeAt(0));
const stream = new Blob([gzipped]).stream().pipeThrough(new DecompressionStream("gzip"));
initSync({ module: new WebAssembly.Module(await new Response(stream).arrayBuffer()) });
