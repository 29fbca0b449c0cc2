// A user's Cloudflare Worker that runs the shared suite (bundled by wrangler).
import { runBundled } from "./bundled-entry.mjs";

export default {
  async fetch() {
    return Response.json(await runBundled("workerd"));
  },
};
