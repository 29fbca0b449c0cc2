// The shared suite against the installed package, as an ES module
// (Node, Node 22, Deno, Bun). Usage: <runtime> run.mjs <label>
import * as lib from "threetone-webhooks";
import runSuite from "./suite.cjs";
import vectors from "./vectors-fs.cjs";

const results = await runSuite(lib, vectors, runSuite.peerSign);
console.log(runSuite.summary(process.argv[2] ?? "esm", results));
process.exitCode = results.failed === 0 ? 0 : 1;
