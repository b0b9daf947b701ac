// Builds the benchmark (bench/*.ts and the library sources they import) with
// esbuild into bench/.out/ and runs it: `npm run bench -- [options]`.
// Packages (grammy, @grammyjs/runner, debug, ...) stay external and load from
// node_modules; src/ is bundled from TypeScript, so no build step is needed.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, ".out");

await build({
  // worker-cpu*.ts: the distribute() worker threads of the workers-cpu scenario.
  entryPoints: [
    "main.ts",
    "server.ts",
    "bot.ts",
    "worker-cpu.ts",
    "worker-cpu-runner.ts",
    "worker-cpu-floor.ts",
    // The replica processes of the cluster-* scenarios.
    "cluster-replica.ts",
  ].map((file) => join(here, file)),
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node18",
  packages: "external",
  logLevel: "warning",
});

const child = spawn(process.execPath, [join(out, "main.mjs"), ...process.argv.slice(2)], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
