import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/**
 * Worker threads load their file with Node's own loader, which cannot run the
 * TypeScript fixtures, so they are bundled to CommonJS once per test run.
 * grammY and debug stay external and resolve from node_modules, which keeps
 * the build fast.
 */
export async function setup(): Promise<void> {
  const dir = fileURLToPath(new URL("fixtures", import.meta.url));
  const names = readdirSync(dir);
  // .mts fixtures use top-level await, which only an ES module can.
  const entryPoints = names
    .filter((name) => name.endsWith(".ts") && !name.endsWith(".mts"))
    .map((name) => join(dir, name));
  await build({
    entryPoints,
    outdir: join(dir, ".build"),
    outExtension: { ".js": ".cjs" },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    packages: "external",
    logLevel: "warning",
  });
  // ES modules: worker-echo again, to check that worker files of either kind
  // load, and the .mts fixtures.
  await build({
    entryPoints: ["worker-echo.ts", ...names.filter((name) => name.endsWith(".mts"))].map((name) =>
      join(dir, name),
    ),
    outdir: join(dir, ".build"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node18",
    packages: "external",
    logLevel: "warning",
  });
}
