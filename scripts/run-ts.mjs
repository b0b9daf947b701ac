// Runs a TypeScript entry point without a TS loader: bundles it (our sources
// included, packages external) with esbuild, which tsup already brings, then
// runs the bundle in this process so signals (Ctrl-C) reach it directly.
// Usage: node scripts/run-ts.mjs <entry.ts> [args…]
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error("usage: node scripts/run-ts.mjs <entry.ts> [args…]");
  process.exit(2);
}
const outdir = join(process.cwd(), "node_modules", ".cache", "grammy-runner");
mkdirSync(outdir, { recursive: true });
const outfile = join(outdir, `${basename(entry, ".ts")}.mjs`);
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node18",
  packages: "external",
  sourcemap: "inline",
  logLevel: "warning",
});
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);
