// Entry for node: initialize first, then the API.
import "./init-node.mjs";

export * from "../api.mjs";
