import { unlink } from "node:fs/promises";
import { describeError } from "../util/log.js";

/** The `code` of a Node.js system error (`ENOENT`, `EEXIST`, ...), if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** An error that says what failed (with the path) and why, keeping the cause. */
export function fsError(message: string, cause: unknown): Error {
  if (cause instanceof Error && cause.message.startsWith(message)) return cause;
  return new Error(`${message}: ${describeError(cause)}`, { cause });
}

/** Removes a file if it is there; only logs a failure, since nothing depends on it. */
export async function removeFile(path: string, log: (message: string) => void): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") log(`could not remove ${path}: ${describeError(error)}`);
  }
}
