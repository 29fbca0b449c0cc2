// The page script of the Chromium test (bundled for the browser).
import { runBundled } from "./bundled-entry.mjs";

window.suiteResult = runBundled("chromium");
