// Runs a TypeScript entry point without a TS loader: bundles it (our sources
// included, packages external) with esbuild, which tsup already brings, then
// runs the bundle in this process so signals (Ctrl-C) reach it directly.
// Usage: node scripts/run-ts.mjs <entry.ts> [args…]   (npm start)
//        node scripts/run-ts.mjs --example <name> [args…]   (npm run example -- <name>)
// An example is bundled with every other file of examples/ as entries of their
// own, so a worker file it starts (workers-worker.js) sits next to it.
import { mkdirSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cache = join(root, "node_modules", ".cache", "grammy-runner");
const EXAMPLES = join(root, "examples");

const [first, ...rest] = process.argv.slice(2);
const example = first === "--example";
const [entry, args] = example ? [rest[0], rest.slice(1)] : [first, rest];
if (!entry) usage();

let outfile;
if (example) {
  const names = readdirSync(EXAMPLES)
    .filter((file) => file.endsWith(".ts") && file !== "support.ts")
    .map((file) => basename(file, ".ts"));
  const name = basename(entry, ".ts");
  // A *-worker file runs in a worker thread that another example starts.
  const runnable = names.filter((n) => !n.endsWith("-worker"));
  if (!runnable.includes(name))
    usage(`unknown example ${JSON.stringify(entry)}; examples: ${runnable.join(", ")}`);
  const outdir = join(cache, "examples");
  await bundle({ entryPoints: names.map((n) => join(EXAMPLES, `${n}.ts`)), outdir });
  outfile = join(outdir, `${name}.js`);
} else {
  outfile = join(cache, `${basename(entry, ".ts")}.mjs`);
  await bundle({ entryPoints: [entry], outfile });
}
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);

function bundle(where) {
  mkdirSync(cache, { recursive: true });
  return build({
    ...where,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node18",
    // Packages load from node_modules; "grammy-runner" maps to src/ through tsconfig paths.
    packages: "external",
    tsconfig: join(root, "tsconfig.json"),
    sourcemap: "inline",
    logLevel: "warning",
  });
}

function usage(problem) {
  console.error(
    "usage: node scripts/run-ts.mjs <entry.ts> [args…]\n" +
      "       node scripts/run-ts.mjs --example <name> [args…]   (npm run example -- <name>)",
  );
  if (problem) console.error(`error: ${problem}`);
  process.exit(2);
}
