// The package's TypeScript types compile for a user's typed code, and misuse
// does not (typed.ts, typed-cjs.cts).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const here = dirname(fileURLToPath(import.meta.url));

test("tsc --noEmit accepts typed use and rejects misuse", async () => {
  const result = await new Promise((resolve) => {
    execFile(join(here, "node_modules/.bin/tsc"), ["--noEmit", "-p", "tsconfig.json"], { cwd: here }, (error, stdout, stderr) =>
      resolve({ code: error?.code ?? 0, output: stdout + stderr }),
    );
  });
  assert.equal(result.code, 0, result.output);
});
