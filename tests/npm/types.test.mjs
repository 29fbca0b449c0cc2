// The package's TypeScript types compile for a user's typed code, and misuse
// does not (typed.ts, typed-cjs.cts; typed-koa.ts).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const here = dirname(fileURLToPath(import.meta.url));

/** Runs tsc --noEmit on `project`; resolves to its exit code and output. */
function tsc(project) {
  return new Promise((resolve) => {
    execFile(join(here, "node_modules/.bin/tsc"), ["--noEmit", "-p", project], { cwd: here }, (error, stdout, stderr) =>
      resolve({ code: error?.code ?? 0, output: stdout + stderr }),
    );
  });
}

test("tsc --noEmit accepts typed use and rejects misuse", async () => {
  const result = await tsc("tsconfig.json");
  assert.equal(result.code, 0, result.output);
});

test("tsc --noEmit: the Koa middleware with Koa's own types, and misuse rejected", async () => {
  const result = await tsc("tsconfig.koa.json");
  assert.equal(result.code, 0, result.output);
});
