import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { expect } from "vitest";

/** Asserts that the journal lock at `path` is this process's: pid, host, pid namespace, token. */
export function expectOwnLock(path: string): void {
  const [pid, host, namespace, token, end] = readFileSync(path, "utf8").split("\n");
  expect({ pid, host, end }).toEqual({ pid: String(process.pid), host: hostname(), end: "" });
  expect(namespace).toBeTypeOf("string");
  expect(token).toMatch(/^[0-9a-f-]{36}$/);
}
