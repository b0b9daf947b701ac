/**
 * The format of `journal.log`, version 2: how records are encoded, checked
 * and read back, and which damage a reader forgives.
 *
 * ## Layout
 *
 * The file is UTF-8 text: one record per line, then possibly zero bytes
 * (0x00) up to the end of the file, written ahead so that an fsync has no
 * file size to record. A reader ignores every zero byte at the end.
 *
 * A record is one line of `9 + n + 1` bytes:
 *
 * | bytes | what |
 * | --- | --- |
 * | 8 | CRC-32 of the JSON bytes, as 8 lowercase hex digits, most significant first |
 * | 1 | a space (0x20) |
 * | n | a JSON object, UTF-8, on one line (`JSON.stringify` escapes newlines) |
 * | 1 | a newline (0x0a) |
 *
 * The CRC is the common one of zlib, PNG and Ethernet (polynomial 0xedb88320
 * reflected, initial value and final XOR 0xffffffff), taken over the `n`
 * bytes of JSON only. No field is binary, so there is no byte order beyond
 * the digits' order.
 *
 * ## Records
 *
 * Every record carries `r`, the number of the writer round that wrote it: a
 * round is one write and one fsync, so its records reach the disk together,
 * and rounds are numbered upwards from 1 within a file's history.
 *
 * - Header, always the first line: `{"journal":"grammy-runner","version":2,"offset":O,"r":R}`,
 *   and, if any, `"recent":[update_id, ...]`: the ids appended lately (done
 *   or not), oldest first, at most the journal's `recentIds`. Written by each
 *   compaction, which starts the file anew. A reader that does not know
 *   `recent` ignores it.
 * - Batch: `{"r":R,"o":O,"u":[update, ...]}`: the updates of one append, in
 *   order, and the offset after them. A compaction writes all pending updates
 *   as one batch right after the header.
 * - Done: `{"r":R,"s":[update_id, ...]}`: updates the runner is done with (the
 *   ids passed to `settle()`), so not to be replayed.
 *
 * `O` is the offset of the next getUpdates (a safe integer), or `null` before
 * the first append. Replaying the records in order gives the pending
 * updates: a batch adds its updates (an id seen before keeps its place and
 * takes the newer update), a done record removes its ids, and the last `o`
 * (or the header's) is the offset. The header's `recent`, then the ids of the
 * batches in order, give the ids appended lately (for `webhook()` to drop
 * Telegram's re-sends of updates done before a restart).
 *
 * ## Torn records
 *
 * A torn record is a line that is not `8 hex digits, space, JSON object` or
 * whose CRC does not match, as is the text after the last newline. A crash,
 * a power loss above all, tears the last round only: the fsync of a round
 * waits before anything is confirmed on its strength, and the next round
 * starts after that fsync. But a torn round may have reached the disk in
 * any order of its pages, so good records of it may follow a torn one.
 *
 * The reader therefore drops everything from the first torn record on, as
 * long as every good record after it belongs to one round: that of the last
 * good record before it, or the next one. Good records of any other round
 * after a torn one mean the file was damaged some other way, and reading
 * fails rather than lose updates silently. A torn header is not forgiven:
 * the file is then not taken for a journal at all.
 */
import * as zlib from "node:zlib";
import { show } from "../util/options.js";
import { isUpdateId } from "../util/update-id.js";

const FORMAT = "grammy-runner";
const VERSION = 2;
/** The largest encoding buffer a journal keeps between rounds. */
const MAX_KEPT_ENCODER_BYTES = 1024 * 1024;
/** The bytes of a record besides its JSON: checksum, space and newline. */
const RECORD_OVERHEAD = 10;

/** What {@link parseLog} reads back. */
export interface ParsedLog<Y> {
  /** Updates appended and not done, by id, in append order. */
  pending: Map<number, Y>;
  /** The offset of the next getUpdates; `undefined` if none was ever written. */
  offset: number | undefined;
  /** Bytes dropped: a torn last round and any text after the last newline. */
  discarded: number;
  /** Ids appended lately, done or not, oldest first: the header's `recent`, then every batch's. */
  recent: number[];
}

/**
 * The body of a batch record for {@link RoundEncoder.encode}.
 *
 * @param updatesJson The updates as one JSON array
 */
export function batchBody(offset: number, updatesJson: string): string {
  return `"o":${JSON.stringify(offset)},"u":${updatesJson}}`;
}

/** The body of a done record for {@link RoundEncoder.encode}. */
export function doneBody(ids: readonly number[]): string {
  return `"s":[${ids.join(",")}]}`;
}

/**
 * A whole log as compaction writes it: the header and, if any updates are
 * pending, one batch record of them, all of round `round`.
 *
 * @param pendingJson The pending updates as one JSON array, or `undefined` for none
 */
export function encodeLog(
  round: number,
  offset: number | undefined,
  pendingJson: string | undefined,
  recent: readonly number[] = [],
): Buffer {
  const o = JSON.stringify(offset ?? null);
  const ids = recent.length > 0 ? `,"recent":[${recent.join(",")}]` : "";
  const header = record(
    `{"journal":"${FORMAT}","version":${VERSION},"offset":${o},"r":${round}${ids}}`,
  );
  if (pendingJson === undefined) return header;
  return Buffer.concat([header, record(`{"r":${round},"o":${o},"u":${pendingJson}}`)]);
}

/**
 * Encodes writer rounds into one buffer that is kept from round to round:
 * allocating a fresh one for each 20 KB batch took longer than encoding the
 * batch into it. A round too large to keep a buffer for (a backlog written
 * at once while a slow disk syncs) gets one of its own.
 */
export class RoundEncoder {
  private buffer = Buffer.allocUnsafe(64 * 1024);

  /**
   * The records of one round, each `{"r":round,` followed by one of `bodies`
   * (record JSON without its opening brace). Valid until the next call.
   */
  encode(round: number, bodies: readonly string[]): Buffer {
    const head = `{"r":${round},`;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    let room = 0;
    for (const body of bodies) room += head.length + 3 * body.length + RECORD_OVERHEAD;
    let buffer = this.buffer;
    if (buffer.length < room) {
      buffer = Buffer.allocUnsafe(room);
      if (room <= MAX_KEPT_ENCODER_BYTES) this.buffer = buffer;
    }
    let end = 0;
    for (const body of bodies) end = putRecord(buffer, end, head, body);
    return buffer.subarray(0, end);
  }
}

/** One record of `json`, encoded once, the checksum taken over the encoded bytes. */
function record(json: string): Buffer {
  const buffer = Buffer.allocUnsafe(Buffer.byteLength(json) + RECORD_OVERHEAD);
  putRecord(buffer, 0, "", json);
  return buffer;
}

/**
 * Writes the record of `head + body` (both JSON text, `head` ASCII) into
 * `buffer` at `at`, which has room for it; returns where the record ends.
 */
function putRecord(buffer: Buffer, at: number, head: string, body: string): number {
  const start = at + 9;
  const middle = start + buffer.write(head, start, "latin1");
  const end = middle + buffer.write(body, middle);
  buffer.write(crc32(buffer.subarray(start, end)), at, "latin1");
  buffer[at + 8] = 0x20; // " "
  buffer[end] = 0x0a; // "\n"
  return end + 1;
}

/**
 * Reads a log back: replays its records after dropping a torn last round
 * (see the top of this file). Throws, naming `path`, if the text is not a
 * journal of this version or is damaged beyond a torn round.
 */
export function parseLog<Y extends { update_id: number }>(
  text: string,
  path: string,
): ParsedLog<Y> {
  const pending = new Map<number, Y>();
  let length = text.length;
  while (length > 0 && text.charCodeAt(length - 1) === 0) length--;
  if (length === 0) return { pending, offset: undefined, discarded: 0, recent: [] };
  const lines = text.slice(0, length).split("\n");
  const tail = lines.pop() ?? "";
  const records = lines.map(decodeLine);
  let offset = readHeader(records[0], path);
  const recent = readRecent(records[0]);
  const end = intactEnd(records, path);
  for (let i = 1; i < end; i++) {
    const record = records[i] as { o?: unknown; u?: unknown; s?: unknown };
    if (Array.isArray(record.u)) {
      offset = readOffset(record.o, path, i + 1);
      for (const update of record.u as unknown[]) {
        const id = (update as { update_id?: unknown } | null)?.update_id;
        if (!isUpdateId(id))
          throw new Error(
            `${path} is damaged: line ${i + 1} holds an update without an update_id.`,
          );
        pending.set(id, update as Y);
        recent.push(id);
      }
    } else if (Array.isArray(record.s)) {
      for (const id of record.s as unknown[]) if (typeof id === "number") pending.delete(id);
    } else {
      throw new Error(`${path} is damaged: line ${i + 1} is not a journal record.`);
    }
  }
  let discarded = tail.length;
  for (let i = end; i < lines.length; i++) discarded += lines[i].length + 1;
  return { pending, offset, discarded, recent };
}

/** The header's `recent` ids; nothing if absent or not a list of ids (they only save duplicates). */
function readRecent(header: object | undefined): number[] {
  const recent = (header as { recent?: unknown } | undefined)?.recent;
  return Array.isArray(recent) ? recent.filter(isUpdateId) : [];
}

/** Checks the header record and returns its offset. */
function readHeader(header: object | undefined, path: string): number | undefined {
  if (header === undefined || (header as { journal?: unknown }).journal !== FORMAT)
    throw new Error(
      `${path} is not a grammy-runner journal (its first line is not a journal header). Move the file away or give fileJournal() another directory.`,
    );
  const { version, offset } = header as { version?: unknown; offset?: unknown };
  if (version !== VERSION)
    throw new Error(
      `${path} is a grammy-runner journal of version ${show(version)}, but this version reads version ${VERSION} only.`,
    );
  return readOffset(offset, path, 1);
}

/**
 * Where the intact records end: at the first torn one, if only records of
 * the round it tore follow; all of them if none is torn.
 */
function intactEnd(records: readonly (object | undefined)[], path: string): number {
  const rounds = records.map((record, i) =>
    record === undefined ? 0 : readRound(record, path, i + 1),
  );
  const firstTorn = records.indexOf(undefined);
  if (firstTorn === -1) return records.length;
  // The torn round is the one of the last good record or the next one.
  const last = rounds[firstTorn - 1];
  let torn: number | undefined;
  for (let i = firstTorn + 1; i < records.length; i++) {
    if (records[i] === undefined) continue;
    torn ??= rounds[i];
    if (rounds[i] === torn && (torn === last || torn === last + 1)) continue;
    throw new Error(
      `${path} is damaged: line ${firstTorn + 1} is unreadable but later records (line ${i + 1}) are intact. Move the file away to start a new journal (its unsettled updates are then lost).`,
    );
  }
  return firstTorn;
}

function readRound(record: object, path: string, line: number): number {
  const round = (record as { r?: unknown }).r;
  if (typeof round === "number" && Number.isSafeInteger(round)) return round;
  throw new Error(`${path} is damaged: line ${line} has no round number.`);
}

function readOffset(value: unknown, path: string, line: number): number | undefined {
  if (value === null) return undefined;
  if (isUpdateId(value)) return value;
  throw new Error(`${path} is damaged: line ${line} holds the offset ${show(value)}.`);
}

/** The record of a line, or `undefined` if the line is torn. */
function decodeLine(line: string): object | undefined {
  const space = line.indexOf(" ");
  if (space !== 8) return undefined;
  const json = line.slice(9);
  if (crc32(json) !== line.slice(0, 8)) return undefined;
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Node >= 20.15 computes CRC-32 natively, several times faster than the table below. */
const nativeCrc32 = (zlib as { crc32?: (data: string | Uint8Array) => number }).crc32;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of `data` (a string as UTF-8), as 8 hex digits. */
function crc32(data: string | Uint8Array): string {
  let value: number;
  if (nativeCrc32 !== undefined) {
    value = nativeCrc32(data);
  } else {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    let c = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    value = (c ^ 0xffffffff) >>> 0;
  }
  return value.toString(16).padStart(8, "0");
}
