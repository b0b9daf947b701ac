// Type-checks every ```ts block of README.md and docs/*.md, so the code a user
// copies compiles: each block becomes a module in a scratch folder, checked by
// tsc with the project's settings ("grammy-runner" resolves to src/).
// A block that is a fragment gets its declarations from an HTML comment right
// above its fence, invisible on GitHub:
//   <!-- prelude: import { Bot } from "grammy"; declare const bot: Bot; -->
// Usage: node scripts/check-doc-blocks.mjs (run by `npm run typecheck`).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
const out = join(root, "node_modules", ".cache", "grammy-runner", "doc-blocks");
const sources = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];

const FENCE = /(?:<!--\s*prelude:([\s\S]*?)-->\s*\n)?```ts\n([\s\S]*?)\n```/g;

/** Every ts block of `file`: where it starts and the module text to check. */
function blocksOf(file) {
  const text = readFileSync(join(root, file), "utf8");
  const blocks = [];
  for (const match of text.matchAll(FENCE)) {
    const prelude = (match[1] ?? "").trim();
    const fenceAt = match.index + match[0].indexOf("```ts");
    const line = text.slice(0, fenceAt).split("\n").length;
    // The prelude shares line 1 with the header, so line n of the module is
    // line `line + n - 1` of the Markdown file.
    const header = `/* ${file}:${line} */ ${prelude.replace(/\n\s*/g, " ")}`;
    blocks.push({ file, line, text: `${header}\n${match[2]}\nexport {};\n` });
  }
  return blocks;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const blocks = sources.flatMap(blocksOf);
const files = blocks.map((block) => {
  const name = `${block.file.replace(/[/.]/g, "_")}_${block.line}.mts`;
  writeFileSync(join(out, name), block.text);
  return name;
});
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: join(root, "tsconfig.json"),
    // Fragments declare names they do not all use.
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
    include: [],
    files,
  }),
);
const tsc = spawnSync(
  process.execPath,
  [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(out, "tsconfig.json")],
  { stdio: "inherit" },
);
if (tsc.status !== 0) {
  console.error(
    `doc blocks: tsc failed; line n of NAME_md_L.mts is line L + n - 1 of NAME.md. Files in ${out}`,
  );
  process.exit(1);
}
console.log(`doc blocks: ${blocks.length} TypeScript blocks in ${sources.length} files type-check`);
