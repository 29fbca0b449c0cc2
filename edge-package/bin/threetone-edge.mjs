#!/usr/bin/env node
// threetone-edge: `init <dir>` writes a project that deploys the prebuilt Worker of this
// package with wrangler alone (no Rust toolchain): wrangler.toml (its `main` is this package's
// worker/entry.mjs under node_modules), .dev.vars.example, README.md, package.json (wrangler
// pinned) and .gitignore. It never overwrites a file. `upgrade [dir]` adds to a project's
// wrangler.toml the Durable Object bindings and migrations this version has and it lacks.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const templates = join(packageDir, "template");
const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));

// What init writes: the project's file, and the template it comes from (npm leaves
// dotfiles such as .gitignore out of a package, so the templates are named without the dot).
const FILES = [
  ["wrangler.toml", "wrangler.toml"],
  [".dev.vars.example", "dev.vars.example"],
  ["README.md", "README.md"],
  ["package.json", "package.json"],
  [".gitignore", "gitignore"],
];

const USAGE = `threetone-edge ${version}: the threetone-edge Cloudflare Worker, prebuilt.

Usage:
  npx threetone-edge init <dir>   write a project in <dir> (created if missing) that deploys
                                  the Worker with wrangler: ${FILES.map(([name]) => name).join(", ")}
  npx threetone-edge upgrade [dir]
                                  after \`npm update threetone-edge\` in a project (default: .):
                                  add to its wrangler.toml the Durable Object bindings and
                                  [[migrations]] this version has and it lacks
  npx threetone-edge --help       this text
  npx threetone-edge --version    the version

init never overwrites a file: it stops, writing nothing, if <dir> has any of them.
`;

function fail(message, code = 1) {
  process.stderr.write(`threetone-edge: ${message}\n`);
  process.exit(code);
}

/** A package name for the project, from its directory's name. */
function packageName(dir) {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[._-]+|[-]+$/g, "");
  return name || "threetone-edge-project";
}

function init(dir) {
  const target = resolve(dir);
  const existing = FILES.map(([name]) => join(target, name)).filter((path) => existsSync(path));
  if (existing.length > 0) {
    fail(
      `not overwriting ${existing.map((path) => relative(process.cwd(), path) || path).join(", ")}: ` +
        "init writes a new project; move these away or choose another directory",
    );
  }
  const values = { name: packageName(target), version };
  const contents = FILES.map(([name, template]) => [
    name,
    readFileSync(join(templates, template), "utf8").replace(/\{\{(\w+)\}\}/g, (whole, key) => values[key] ?? whole),
  ]);
  mkdirSync(target, { recursive: true });
  for (const [name, text] of contents) {
    // "wx": fails rather than overwrite a file that appeared since the check.
    writeFileSync(join(target, name), text, { flag: "wx" });
  }
  const shown = relative(process.cwd(), target) || ".";
  process.stdout.write(
    `threetone-edge ${version}: wrote ${FILES.map(([name]) => join(shown, name)).join(", ")}

Next:
  cd ${shown}
  npm install                              # threetone-edge ${version} and the pinned wrangler
  npx wrangler secret put WEBHOOK_SECRET   # the secret you gave ThreeTone (and ADMIN_TOKEN, and each one ROUTES names)
  npx wrangler dev                         # locally, with .dev.vars (copy .dev.vars.example)
  npx wrangler deploy                      # set ORIGIN_URL or ROUTES in wrangler.toml first
`,
  );
}

/**
 * The top-level blocks of a wrangler.toml: each uncommented table header (`[x]`, `[[x]]`) with the
 * lines up to the next one. Enough for the blocks this command reads, whose values are one line.
 */
function blocks(text) {
  const found = [];
  let current = null;
  for (const line of text.split("\n")) {
    const header = /^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      current = { header: header[2], array: header[1] === "[[", lines: [line] };
      found.push(current);
    } else if (current) {
      current.lines.push(line);
    }
  }
  for (const block of found) {
    // Trailing comments and blank lines belong to what follows.
    while (block.lines.length > 1 && /^\s*(#.*)?$/.test(block.lines.at(-1))) block.lines.pop();
    block.text = block.lines.join("\n");
    block.key = (name) => {
      const value = block.lines.map((line) => new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"`).exec(line)).find(Boolean);
      return value?.[1];
    };
  }
  return found;
}

function upgrade(dir) {
  const file = join(resolve(dir), "wrangler.toml");
  if (!existsSync(file)) fail(`no ${file}: run it in a project made by \`npx threetone-edge init\``);
  const text = readFileSync(file, "utf8");
  const ours = blocks(readFileSync(join(templates, "wrangler.toml"), "utf8"));
  const theirs = blocks(text);
  const tags = (list) => list.filter((block) => block.array && block.header === "migrations").map((block) => block.key("tag"));
  const wanted = tags(ours);
  const have = tags(theirs);
  const prefix = have.every((tag, index) => wanted[index] === tag);
  if (!prefix || have.length > wanted.length) {
    fail(
      `${file} has the migrations ${have.join(", ") || "(none)"}, but threetone-edge ${version} has ` +
        `${wanted.join(", ")}: yours must be the first of these, in order (never edit or remove a deployed one)`,
    );
  }
  const bindingNames = new Set(
    theirs.filter((block) => block.array && block.header === "durable_objects.bindings").map((block) => block.key("name")),
  );
  const added = ours.filter(
    (block) =>
      block.array &&
      ((block.header === "durable_objects.bindings" && !bindingNames.has(block.key("name"))) ||
        (block.header === "migrations" && !have.includes(block.key("tag")))),
  );
  if (added.length === 0) {
    process.stdout.write(`threetone-edge ${version}: ${relative(process.cwd(), file) || file} already has every binding and migration\n`);
    return;
  }
  const addition = added.map((block) => block.text).join("\n\n");
  writeFileSync(file, `${text.replace(/\n*$/, "\n")}\n# Added by \`npx threetone-edge upgrade\` (${version}):\n${addition}\n`);
  const names = added.map((block) => (block.header === "migrations" ? `migration ${block.key("tag")}` : `binding ${block.key("name")}`));
  process.stdout.write(
    `threetone-edge ${version}: added ${names.join(", ")} to ${relative(process.cwd(), file) || file}\n` +
      "Other changes of a new version (variables, triggers) are in its README; then: npx wrangler deploy\n",
  );
}

const args = process.argv.slice(2);
if (args.length === 0) {
  process.stderr.write(USAGE);
  process.exit(2);
}
if (args.includes("--help") || args.includes("-h") || args[0] === "help") {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (args[0] === "--version" || args[0] === "-v") {
  process.stdout.write(`${version}\n`);
  process.exit(0);
}
if (args[0] === "init") {
  if (args.length !== 2 || args[1].startsWith("-")) fail(`init takes one directory: npx threetone-edge init <dir>\n\n${USAGE}`, 2);
  init(args[1]);
} else if (args[0] === "upgrade") {
  if (args.length > 2 || args[1]?.startsWith("-")) fail(`upgrade takes at most one directory: npx threetone-edge upgrade [dir]\n\n${USAGE}`, 2);
  upgrade(args[1] ?? ".");
} else {
  fail(`unknown command ${JSON.stringify(args[0])}\n\n${USAGE}`, 2);
}
