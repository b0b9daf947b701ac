import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildOptions, build } from "esbuild";

/**
 * Builds without writing, then replaces only the outputs that changed, each
 * by a rename: CI runs the suite on several Node versions at once, and one
 * run must never see another's half-written fixture.
 */
async function buildFixtures(options: BuildOptions & { outdir: string }): Promise<void> {
  const { outputFiles = [] } = await build({ ...options, write: false });
  mkdirSync(options.outdir, { recursive: true });
  for (const file of outputFiles) {
    if (existsSync(file.path) && readFileSync(file.path).equals(file.contents)) continue;
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
}

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
  await buildFixtures({
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
  await buildFixtures({
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
