/** The journal's floor: what writing and fdatasyncing one batch costs on its disk. */
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { percentile } from "../stats.js";

/**
 * Microseconds (p50) that writing `bytes` into preallocated space of a file
 * on the journal's disk and fdatasyncing it take, 1 ms apart, as the
 * journal's write rounds are here: the least a batch costs with a journal.
 */
export async function syncFloor(bytes: number): Promise<number> {
  const rounds = 200;
  const dir = await mkdtemp(join(tmpdir(), "grammy-runner-bench-sync-"));
  const fd = openSync(join(dir, "floor"), "w");
  try {
    writeSync(fd, Buffer.alloc(bytes * rounds));
    fdatasyncSync(fd);
    const data = Buffer.alloc(bytes, "{");
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await delay(1);
      const started = performance.now();
      writeSync(fd, data, 0, bytes, i * bytes);
      fdatasyncSync(fd);
      times.push((performance.now() - started) * 1000);
    }
    return percentile(
      times.sort((a, b) => a - b),
      0.5,
    );
  } finally {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
}
