import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import { expect } from "vitest";

/** This process's pid namespace, as a journal lock records it ("" where there is none to read). */
export const pidNamespace = (() => {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return "";
  }
})();

/** The text of a journal lock held by `pid`, by default of this host and pid namespace. */
export function lockText(
  pid: number,
  { host = hostname(), namespace = pidNamespace, token = "token-a" } = {},
): string {
  return `${pid}\n${host}\n${namespace}\n${token}\n`;
}

/** Asserts that the journal lock at `path` is this process's: pid, host, pid namespace, token. */
export function expectOwnLock(path: string): void {
  const [pid, host, namespace, token, end] = readFileSync(path, "utf8").split("\n");
  expect({ pid, host, namespace, end }).toEqual({
    pid: String(process.pid),
    host: hostname(),
    namespace: pidNamespace,
    end: "",
  });
  expect(token).toMatch(/^[0-9a-f-]{36}$/);
}
