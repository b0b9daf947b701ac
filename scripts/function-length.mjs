// Lists functions, methods and classes' members longer than a limit, so that no
// unit grows past what a reader can hold at once. Exits 1 when any is found.
// Usage: node scripts/function-length.mjs [--max 80] [dir…]   (default: src bench demo)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const args = process.argv.slice(2);
let max = 80;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--max") max = Number(args[++i]);
  else dirs.push(args[i]);
}
if (!Number.isInteger(max) || max < 1) {
  console.error(`--max expects a whole number >= 1, got ${args[args.indexOf("--max") + 1]}`);
  process.exit(2);
}
if (dirs.length === 0) dirs.push("src", "bench", "demo", "examples");

function* files(dir) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith(".d.ts")) yield path;
  }
}

const long = [];
for (const dir of dirs) {
  for (const path of files(dir)) {
    const source = ts.createSourceFile(
      path,
      readFileSync(path, "utf8"),
      ts.ScriptTarget.Latest,
      true,
    );
    const visit = (node) => {
      if (ts.isFunctionLike(node) && "body" in node && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.body.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.body.getEnd()).line;
        const lines = end - start + 1;
        if (lines > max) {
          const name = node.name?.getText(source) ?? "(anonymous)";
          long.push(`${path}:${start + 1} ${name}: ${lines} lines`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}
for (const line of long) console.log(line);
if (long.length > 0) {
  console.log(`${long.length} function(s) over ${max} lines`);
  process.exit(1);
}
