/**
 * Every example runs with its documented command (`npm run example -- NAME`,
 * i.e. scripts/run-ts.mjs --example NAME) against the embedded fake Bot API
 * server with simulated users, stops itself after `--duration`, and has
 * handled updates and sent replies by then. The demo (`npm start`) too. One
 * example also runs bundled as CommonJS, worker thread included.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const examples = readdirSync(join(root, "examples"))
  .filter((file) => file.endsWith(".ts") && file !== "support.ts" && !file.endsWith("-worker.ts"))
  .map((file) => basename(file, ".ts"));
// The journal example writes ./data: a scratch working directory keeps it out of the checkout.
const cwd = mkdtempSync(join(tmpdir(), "grammy-runner-examples-"));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

interface Outcome {
  code: number | null;
  output: string;
}

function runNode(args: string[]): Promise<Outcome> {
  const env = { ...process.env };
  delete env.BOT_TOKEN;
  delete env.DEBUG;
  // The demo serves /metrics: any free port, not the default one another run may hold.
  env.METRICS_PORT = "0";
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** The count in the example's last words: "N updates handled", "N handled", "handled N" or "N replies in". */
function handledIn(output: string): number {
  const match = /(\d+) (?:updates )?handled|handled (\d+)|([\d,]+) replies in/.exec(output);
  return match ? Number((match[1] ?? match[2] ?? match[3]).replaceAll(",", "")) : 0;
}

describe("examples run against the fake Bot API server", () => {
  it("lists them all, and the README names each one", () => {
    expect(examples).toEqual(
      expect.arrayContaining(["echo", "sessions", "timeouts", "journal", "workers-bot", "metrics"]),
    );
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const name of examples) expect(readme).toContain(`examples/${name}.ts`);
  });

  it.each(examples)(
    "npm run example -- %s",
    async (name) => {
      const run = await runNode([
        join(root, "scripts/run-ts.mjs"),
        "--example",
        name,
        "--duration",
        "2.5",
      ]);
      expect(run.code, run.output).toBe(0);
      expect(handledIn(run.output), run.output).toBeGreaterThan(0);
      // Those built on support.ts: all but webhook, which Telegram could only reach over HTTPS.
      if (readFileSync(join(root, "examples", `${name}.ts`), "utf8").includes("./support.js")) {
        expect(run.output).toContain("No BOT_TOKEN: running against a fake Bot API server");
        expect(run.output).toMatch(/bot -> chat \d+: /);
      }
    },
    30_000,
  );

  it("workers-bot also runs bundled as CommonJS, its worker file next to it", async () => {
    // A folder of its own marked CommonJS, under node_modules so packages resolve.
    const outdir = join(root, "node_modules", ".cache", "grammy-runner", "examples-cjs");
    mkdirSync(outdir, { recursive: true });
    writeFileSync(join(outdir, "package.json"), '{ "type": "commonjs" }\n');
    await build({
      entryPoints: ["workers-bot.ts", "workers-worker.ts"].map((f) => join(root, "examples", f)),
      outdir,
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node18",
      packages: "external",
      tsconfig: join(root, "tsconfig.json"),
      logLevel: "warning",
    });
    const run = await runNode([join(outdir, "workers-bot.js"), "--duration", "2.5"]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/bot -> chat \d+: A worker thread says: /);
  }, 30_000);

  it("npm start: the demo handles updates and prints the drain on its own line", async () => {
    const run = await runNode([
      join(root, "scripts/run-ts.mjs"),
      join(root, "demo/demo.ts"),
      "--duration",
      "2",
      "--updates",
      "400",
      "--chats",
      "20",
    ]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/^2 s elapsed: stopping, \d+ updates in flight…$/m);
    expect(run.output).toMatch(/^Drained in \d+ ms: [1-9]\d* handled, /m);
    // Not a terminal: one plain line per status, no cursor control.
    expect(run.output).not.toContain("\r");
    expect(run.output).toMatch(/^ *\d+ upd\/s \| running \d+\/500 \| parked \d+/m);
  }, 30_000);

  it("npm start -- --webhook: the fake server POSTs every update to the demo's webhook", async () => {
    const run = await runNode([
      join(root, "scripts/run-ts.mjs"),
      join(root, "demo/demo.ts"),
      "--webhook",
      "--duration",
      "3",
      "--updates",
      "200",
      "--chats",
      "20",
      "--rate",
      "400",
    ]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/^Drained in \d+ ms: [1-9]\d* handled, /m);
    // Counted by the fake server: the updates came by webhook, not by getUpdates.
    expect(run.output).toMatch(/^POSTs [1-9]\d* re-sent \d+ for [1-9]\d* updates\.$/m);
    expect(run.output).not.toMatch(/getUpdates/);
  }, 30_000);
});
