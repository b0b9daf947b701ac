import { renameSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { errorCode, fsError, removeFile } from "./files.js";
import type { JournalLock } from "./lock.js";

const log = logger("journal");

/** Zeros written (and, for a spare, fsynced) at a time. */
const ZERO_STEP = 1024 * 1024;
/** Preallocated room beyond the compaction point, for the round that crosses it. */
const ALLOCATION_SLACK = 64 * 1024;

/** A zero-filled file for the next compaction, open, and how much of it is zeros. */
interface Spare {
  file: FileHandle;
  size: number;
}

/**
 * Puts a new log in place of the old one, and keeps a zero-filled spare file
 * ready for that. The caller encodes the new log; this writes it durably and
 * only while the journal's lock is held.
 */
export class LogReplacer {
  /**
   * The zero-filled file the next compaction writes into, once ready;
   * `undefined` if it could not be made. Kept open from its creation on:
   * reopened by name, it could be another owner's file by then.
   */
  private spare: Promise<Spare | undefined> | undefined;

  /**
   * @param dir The journal directory
   * @param path The log
   * @param sparePath The spare file
   * @param lock The journal's lock, held while the journal is open
   * @param compactBytes Where the next compaction starts, so how far to preallocate
   */
  constructor(
    private readonly dir: string,
    private readonly path: string,
    private readonly sparePath: string,
    private readonly lock: JournalLock,
    private readonly compactBytes: number,
  ) {}

  /**
   * Replaces the log by `data`: written to a new file, fsynced, renamed over
   * the log (atomic), then the directory fsynced so the rename itself survives
   * a power loss. `adopt` gets the new file as soon as it is the log, before
   * that last fsync, which may still fail.
   *
   * With `preallocate`, the new file goes on with zeros up to the next
   * compaction point: an fsync after overwriting them has no file size to
   * record, which halves its time on ext4. The reader takes the zeros at the
   * end for the end of the log. The zeros are written ahead, into the spare
   * file, while the runner goes on: written here, they held up fetching for
   * about 12 ms per 8 MiB compaction.
   */
  async replace(
    data: Buffer,
    preallocate: boolean,
    adopt: (file: FileHandle) => void,
  ): Promise<void> {
    // Up to where the next compaction starts: compactBytes, or twice the
    // pending bytes while those are more than half of it.
    const allocation = preallocate
      ? Math.max(this.compactBytes, 2 * data.length) + ALLOCATION_SLACK
      : data.length;
    let spare: Spare | undefined;
    let spareFailed = false;
    if (preallocate && this.spare !== undefined) {
      spare = await this.spare;
      this.spare = undefined;
      spareFailed = spare === undefined;
    }
    const target = spare !== undefined ? this.sparePath : `${this.path}.tmp`;
    let out: FileHandle | undefined = spare?.file;
    try {
      // Waiting for the spare may have taken a while: check again before
      // touching files (a failure closes the spare below).
      this.lock.ensureHeld();
      // A spare that could not be made (a full disk) is not left behind.
      if (spareFailed) await removeFile(this.sparePath, log);
      // A file this process created, never one reopened by name: a process
      // that lost the directory while paused may still write into its own
      // files, which are then no longer the new owner's.
      out ??= await createFresh(target);
      await writeAll(out, data);
      await this.preallocate(out, Math.max(spare?.size ?? 0, data.length), allocation);
      await out.sync();
      // Again: paused while writing, this process may have lost the directory
      // to another. Synchronous, so that no pause fits between check and rename.
      this.lock.ensureHeld();
      renameSync(target, this.path);
    } catch (error) {
      await out?.close().catch(noop);
      // A lost lock: the file may be the new owner's now.
      if (this.lock.stillHeld()) await removeFile(target, log);
      throw fsError(`Compacting the journal ${this.path} failed`, error);
    }
    // Reopening the log by name could open a new owner's log, should this
    // process lose the directory meanwhile.
    adopt(out);
    try {
      await syncDirectory(this.dir);
    } catch (error) {
      throw fsError(`Compacting the journal ${this.path} failed`, error);
    }
  }

  private async preallocate(file: FileHandle, zeroFrom: number, end: number): Promise<void> {
    try {
      if (end > zeroFrom) await writeZeros(file, zeroFrom, end);
    } catch (error) {
      // The zeros only make fsyncs faster; a log without them is as good.
      log(`could not preallocate ${this.path}: ${describeError(error)}`);
    }
  }

  /** Starts zero-filling and fsyncing the next compaction's file in the background. */
  prepareSpare(): void {
    if (!this.lock.stillHeld()) return;
    const size = this.compactBytes + ALLOCATION_SLACK;
    this.spare = (async () => {
      let file: FileHandle | undefined;
      try {
        // A new file: one left by a crash may hold records (it is never read),
        // or be held open by a process that lost the directory while paused.
        file = await createFresh(this.sparePath);
        // Each step fsynced: one 8 MiB flush held up the journal's own
        // fsyncs for milliseconds.
        const zeroed = await writeZeros(file, 0, size, () => this.lock.stillHeld());
        return { file, size: zeroed };
      } catch (error) {
        await file?.close().catch(noop);
        log(`could not prepare ${this.sparePath}, compacting without it: ${describeError(error)}`);
        return undefined;
      }
    })();
  }

  /** Waits for the spare being prepared, if any, and removes it: a stopped bot keeps no 8 MiB file. */
  async dropSpare(): Promise<void> {
    const spare = this.spare;
    this.spare = undefined;
    if (spare === undefined) return;
    await (await spare)?.file.close().catch(noop);
    // A lost lock: the name may be the new owner's spare now.
    if (this.lock.stillHeld()) await removeFile(this.sparePath, log);
  }
}

/** Writes `data` at the start of `file`. */
async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, done);
    done += bytesWritten;
  }
}

/**
 * Writes zeros from `start` up to `end`, {@link ZERO_STEP} at a time. With
 * `goOn`, each step is fsynced, and the writing stops once `goOn()` is false.
 * Returns where the zeros end.
 */
async function writeZeros(
  file: FileHandle,
  start: number,
  end: number,
  goOn?: () => boolean,
): Promise<number> {
  const zeros = Buffer.alloc(Math.min(end - start, ZERO_STEP));
  let at = start;
  while (at < end && goOn?.() !== false) {
    const { bytesWritten } = await file.write(zeros, 0, Math.min(zeros.length, end - at), at);
    at += bytesWritten;
    if (goOn !== undefined) await file.datasync();
  }
  return at;
}

/** Creates `path` anew (a new inode), removing any file of that name first. */
async function createFresh(path: string): Promise<FileHandle> {
  await removeFile(path, log);
  return open(path, "wx", 0o600);
}

/** Fsyncs a directory so a rename in it is durable; a no-op where directories cannot be opened. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    const code = errorCode(error);
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw error;
  } finally {
    await handle?.close().catch(noop);
  }
}
