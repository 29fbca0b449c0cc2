// Node, Bun: compile the wasm next to this file, synchronously.
import { readFileSync } from "node:fs";
import { initSync } from "../glue.mjs";

initSync({ module: new WebAssembly.Module(readFileSync(new URL("../threetone_webhooks_bg.wasm", import.meta.url))) });
