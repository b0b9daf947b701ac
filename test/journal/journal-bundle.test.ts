import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Every source file and every external import that bundling `entry` takes in. */
async function bundled(entry: string): Promise<{ files: string[]; externals: string[] }> {
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outdir: "out",
    logLevel: "silent",
  });
  const inputs = Object.values(metafile.inputs);
  const externals = inputs.flatMap((input) =>
    input.imports.filter((i) => i.external).map((i) => i.path),
  );
  return { files: Object.keys(metafile.inputs), externals };
}

// Only the runner with a file journal needs the log, its lock and zlib; the
// replay marks that workers and `sequentialize` users share must not drag them in.
describe.each([
  "src/distribute/distribute.ts",
  "src/distribute/bot-worker.ts",
  "src/runner/sequentialize.ts",
])("bundling %s", (entry) => {
  it("leaves out the file journal, its lock and zlib", async () => {
    const { files, externals } = await bundled(entry);
    expect(files).toContain(entry);
    expect(files).not.toContain("src/journal/file-journal.ts");
    expect(files).not.toContain("src/journal/lock.ts");
    expect(externals).not.toContain("node:zlib");
    expect(externals).not.toContain("zlib");
  });
});

it("bundling fileJournal takes in the lock and zlib, as the test above expects of it", async () => {
  const { files, externals } = await bundled("src/journal/file-journal.ts");
  expect(files).toContain("src/journal/lock.ts");
  expect(externals).toContain("node:zlib");
});
