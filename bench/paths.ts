/**
 * Where the benchmark's files are. run.mjs bundles every entry into bench/.out/,
 * so `import.meta.url` is the bundle's, whichever source file this code came from.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** bench/.out/: the bundles of the orchestrator, the server, the bot and the worker threads. */
export const OUT_DIR = dirname(fileURLToPath(import.meta.url));

/** Where a full run's results go unless --out says otherwise. */
export const RESULTS_FILE = join(dirname(OUT_DIR), "RESULTS.md");

/** Where a --quick run's results go unless --out says otherwise: never over the committed RESULTS.md. */
export const QUICK_RESULTS_FILE = join(OUT_DIR, "RESULTS-quick.md");
