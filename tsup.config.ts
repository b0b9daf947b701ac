import { defineConfig } from "tsup";
import pkg from "./package.json" with { type: "json" };

/** Subpaths whose source folder has another name than the subpath. */
const SOURCE_DIR: Record<string, string> = { fetch: "client" };

/**
 * One entry per subpath of package.json's `exports`: "." is src/index.ts and
 * "./<name>" is src/<name>/index.ts, built to dist/<name>/index.*. The exports
 * map is what Node and TypeScript read, so deriving the entries from it keeps
 * a subpath from being declared but never built.
 */
const entry = Object.fromEntries(
  Object.entries(pkg.exports)
    .filter(([, target]) => typeof target !== "string") // "./package.json"
    .map(([subpath]) => {
      const name = subpath === "." ? "" : `${subpath.slice(2)}/`;
      const dir = subpath === "." ? "" : `${SOURCE_DIR[subpath.slice(2)] ?? subpath.slice(2)}/`;
      return [`${name}index`, `src/${dir}index.ts`];
    }),
);

export default defineConfig({
  entry,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  platform: "node",
  splitting: false,
});
