/**
 * Where the benchmark's files are. run.mjs bundles every entry into bench/.out/,
 * so `import.meta.url` is the bundle's, whichever source file this code came from.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** bench/.out/: the bundles of the orchestrator, the server, the bot and the worker threads. */
export const OUT_DIR = dirname(fileURLToPath(import.meta.url));

/** Where the results go unless --out says otherwise. */
export const RESULTS_FILE = join(dirname(OUT_DIR), "RESULTS.md");
