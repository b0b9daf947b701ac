import { defineConfig } from "tsup";
import pkg from "./package.json" with { type: "json" };

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
      return [`${name}index`, `src/${name}index.ts`];
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
