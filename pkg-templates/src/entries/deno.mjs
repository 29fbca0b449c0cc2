// Entry for Deno (npm: imports): the inlined wasm, node:crypto's HMAC for large bodies, then the API.
import "./init-inline.mjs";
import "./hmac-node.mjs";

export * from "../api.mjs";
