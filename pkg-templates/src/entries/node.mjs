// Entry for node (and Bun): initialize first, node:crypto's HMAC for large bodies, then the API.
import "./init-node.mjs";
import "./hmac-node.mjs";

export * from "../api.mjs";
