// Builds a component with no code from a WIT world, for `cargo xtask component`
// to compare the built component's types with: what `jco embed --dummy --wit`
// then `jco new` do, except that `jco embed` cannot read the WIT file (jco
// 1.35 gives its WASI file system no directory), so the WIT goes in as text.
//
// Usage: node component/reference.mjs <file.wit> <world> <output.wasm>

import { readFileSync, writeFileSync } from "node:fs";

import { componentEmbed, componentNew } from "@bytecodealliance/jco";

const [witPath, world, output] = process.argv.slice(2);
if (!output) {
  console.error("usage: node component/reference.mjs <file.wit> <world> <output.wasm>");
  process.exit(2);
}
const core = await componentEmbed({ witSource: readFileSync(witPath, "utf8"), world, dummy: true });
writeFileSync(output, await componentNew(core));
