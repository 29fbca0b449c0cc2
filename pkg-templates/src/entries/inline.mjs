// Entry for inline: initialize first, then the API.
import "./init-inline.mjs";

export * from "../api.mjs";
