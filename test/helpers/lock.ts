import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { expect } from "vitest";
import { pidSpace } from "../../src/journal/lock.js";

/** The text of a journal lock held by `pid`, by default of this host and pid space. */
export function lockText(
  pid: number,
  { host = hostname(), space = pidSpace(), token = "token-a" } = {},
): string {
  return `${pid}\n${host}\n${space}\n${token}\n`;
}

/** Asserts that the journal lock at `path` is this process's: pid, host, pid space, token. */
export function expectOwnLock(path: string): void {
  const [pid, host, space, token, end] = readFileSync(path, "utf8").split("\n");
  expect({ pid, host, space, end }).toEqual({
    pid: String(process.pid),
    host: hostname(),
    space: pidSpace(),
    end: "",
  });
  expect(token).toMatch(/^[0-9a-f-]{36}$/);
}

/**
 * Drops a file journal as if its process died: the OS closes its files (the
 * log, the lock, the spare being prepared) and its timers go; nothing is
 * flushed, compacted or unlocked, so the lock file stays.
 */
export async function abandonJournal(journal: object): Promise<void> {
  const { fd, lock, replacer } = journal as {
    fd?: { close(): Promise<void> };
    lock: { handle?: { close(): Promise<void> }; timer?: NodeJS.Timeout };
    replacer: { spare?: Promise<{ file: { close(): Promise<void> } } | undefined> };
  };
  await fd?.close();
  await lock.handle?.close();
  clearInterval(lock.timer);
  await (await replacer.spare)?.file.close();
}
