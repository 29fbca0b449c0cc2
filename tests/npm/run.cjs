// The shared suite against the installed package, through require().
const lib = require("threetone-webhooks");
const runSuite = require("./suite.cjs");
const vectors = require("./vectors-fs.cjs");

runSuite(lib, vectors, runSuite.peerSign).then((results) => {
  console.log(runSuite.summary(process.argv[2] ?? "cjs", results));
  process.exitCode = results.failed === 0 ? 0 : 1;
});
