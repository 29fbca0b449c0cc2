// Entry for workerd: initialize first, then the API.
import "./init-workerd.mjs";

export * from "../api.mjs";
