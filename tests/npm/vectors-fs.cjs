// The shared vectors, read from ./vectors (copied from tests/vectors by cargo xtask).
"use strict";
const { readFileSync, readdirSync } = require("node:fs");
const { join } = require("node:path");

const dir = join(__dirname, "vectors");
const json = (name) => JSON.parse(readFileSync(join(dir, name), "utf8"));
const seeds = Object.fromEntries(
  readdirSync(join(dir, "payloads")).map((file) => [file.replace(/\.json$/, ""), readFileSync(join(dir, "payloads", file), "utf8")]),
);

module.exports = {
  signatures: json("signatures.json"),
  headers: json("signature-headers.json"),
  payloads: json("payload-cases.json"),
  catalog: json("catalog.json"),
  seeds,
};
