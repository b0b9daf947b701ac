/**
 * The fake server's pending updates and `getUpdates` as Telegram answers it:
 * `offset` confirms (or, negative, keeps the last few), `limit` is clamped to
 * 1..100, `timeout` holds the request until updates arrive, `allowed_updates`
 * filters and persists, and a new poll ends the one still waiting with 409.
 */
import type { Update } from "grammy/types";
import { checkNumber, show } from "../util/options.js";
import { timerDelay } from "../util/timers.js";
import { isUpdateId } from "../util/update-id.js";
import { SAFE_INTEGER } from "./builders.js";
import type { Exchange } from "./exchange.js";
import type { FakeBotApiStats } from "./stats.js";

/** What Telegram answers a poll that another `getUpdates` request ended. */
export const CONFLICT_POLL =
  "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";

/** Update types Telegram leaves out unless `allowed_updates` names them. */
const OPT_IN_TYPES: ReadonlySet<string> = new Set([
  "chat_member",
  "message_reaction",
  "message_reaction_count",
]);

/** One queued update, serialized once when pushed. */
interface Entry {
  /** Position for offsets: the update_id, or the one before for raw values without one. */
  seq: number;
  json: string;
  /** First key other than `update_id`, for `allowed_updates`. */
  type: string | undefined;
  delivered: boolean;
  /** Skipped by `allowed_updates`: no longer pending, awaiting removal from the queue. */
  dropped: boolean;
}

/**
 * Pending updates in push order and the `getUpdates` requests waiting for
 * them. Counts deliveries and confirmations into the server's stats.
 */
export class UpdateQueue {
  /** Queued updates from `head` on; entries before it are confirmed. */
  private entries: Entry[] = [];
  private head = 0;
  private pendingCount = 0;
  /** Whether `seq` never decreases along the queue, so confirming can stop early. */
  private monotonic = true;
  private lastSeq = Number.NEGATIVE_INFINITY;
  private nextId = 1;
  /** `undefined`: Telegram's default set. */
  private allowed: ReadonlySet<string> | undefined;
  /** getUpdates requests not answered yet. */
  private readonly polls = new Set<Exchange>();
  private flushScheduled = false;

  /**
   * @param maxUpdates most updates held; more forget the oldest
   * @param changed called after every change waiters may be looking for
   */
  constructor(
    private readonly stats: FakeBotApiStats,
    private readonly maxUpdates: number,
    private readonly changed: () => void,
  ) {}

  /** Updates not yet confirmed by an offset (nor skipped by `allowed_updates`). */
  get pending(): number {
    return this.pendingCount;
  }

  /** getUpdates requests received and not answered yet. */
  get openPolls(): number {
    return this.polls.size;
  }

  push(update: Omit<Update, "update_id"> & { update_id?: number }): Update {
    if (typeof update !== "object" || update === null || Array.isArray(update))
      throw new TypeError(`pushUpdate() needs an update object, but got ${show(update)}.`);
    const { update_id, ...rest } = update;
    const id =
      update_id === undefined
        ? this.nextId
        : checkNumber("update.update_id", update_id, SAFE_INTEGER);
    const full: Update = { update_id: id, ...rest };
    this.enqueue(id, JSON.stringify(full), updateType(full), true);
    return full;
  }

  pushRaw(value: unknown): void {
    let seq = this.nextId - 1;
    let type: string | undefined;
    let bump = false;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const id = (value as { update_id?: unknown }).update_id;
      if (isUpdateId(id)) {
        seq = id;
        bump = true;
      }
      type = updateType(value);
    }
    this.enqueue(seq, JSON.stringify(value) ?? "null", type, bump);
  }

  /**
   * Counts a getUpdates request as open from its arrival, before any fault or
   * delay: like Telegram, a new poll ends the one still waiting.
   */
  register(poll: Exchange): void {
    this.polls.add(poll);
    if (this.polls.size > this.stats.maxConcurrentPolls)
      this.stats.maxConcurrentPolls = this.polls.size;
    for (const other of this.polls) if (other !== poll) other.sendError(409, CONFLICT_POLL);
  }

  /** Forgets a request that was answered or abandoned. */
  release(exchange: Exchange): void {
    this.polls.delete(exchange);
  }

  /** Ends every open poll with 409 `description`, e.g. because a webhook was set. */
  conflict(description: string): void {
    for (const poll of this.polls) poll.sendError(409, description);
  }

  /** Answers a getUpdates request now, or holds it for its `timeout`. */
  answer(poll: Exchange): void {
    const { offset, limit, timeout, allowed_updates } = poll.params;
    if (typeof offset === "number" && Number.isFinite(offset)) {
      if (offset > 0) this.confirm(Math.floor(offset));
      else if (offset < 0) this.keepLast(Math.floor(-offset));
    }
    this.setAllowed(allowed_updates);
    poll.limit =
      typeof limit === "number" && limit > 0 ? Math.min(100, Math.max(1, Math.floor(limit))) : 100;
    const body = this.collect(poll.limit);
    const seconds = typeof timeout === "number" && timeout > 0 ? timeout : 0;
    if (body !== undefined || seconds === 0) {
      sendUpdates(poll, body ?? "");
      return;
    }
    poll.held = true;
    poll.timer = setTimeout(
      () => {
        poll.timer = undefined;
        sendUpdates(poll, this.collect(poll.limit) ?? "");
      },
      timerDelay(seconds * 1000),
    );
  }

  /** Keeps `allowed_updates` as given to `getUpdates` or `setWebhook`. */
  setAllowed(allowed: unknown): void {
    if (!Array.isArray(allowed)) return;
    const types = allowed.filter((t): t is string => typeof t === "string");
    this.allowed = types.length === 0 ? undefined : new Set(types);
  }

  /** Removes every deliverable pending update, for a webhook; returns their JSON in order. */
  takeAll(): string[] {
    const taken: string[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry.dropped || (entry.type !== undefined && !this.isAllowed(entry.type))) continue;
      taken.push(entry.json);
      if (entry.seq + 1 > this.stats.confirmedOffset) this.stats.confirmedOffset = entry.seq + 1;
    }
    this.dropAll();
    return taken;
  }

  /** Forgets every pending update, as `drop_pending_updates` does. */
  dropAll(): void {
    this.entries = [];
    this.head = 0;
    this.pendingCount = 0;
    this.monotonic = true;
    this.lastSeq = Number.NEGATIVE_INFINITY;
  }

  private enqueue(seq: number, json: string, type: string | undefined, bumpId: boolean): void {
    if (bumpId && seq >= this.nextId) this.nextId = seq + 1;
    while (this.pendingCount >= this.maxUpdates) {
      const oldest = this.entries[this.head++];
      if (!oldest.dropped) this.pendingCount--;
    }
    this.entries.push({ seq, json, type, delivered: false, dropped: false });
    this.pendingCount++;
    if (seq < this.lastSeq) this.monotonic = false;
    else this.lastSeq = seq;
    this.compact();
    if (this.polls.size > 0 && !this.flushScheduled) {
      // A microtask, so that updates pushed in one synchronous run go out together.
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    this.changed();
  }

  /** Answers held polls now that updates may be there. */
  private flush(): void {
    this.flushScheduled = false;
    for (const poll of this.polls) {
      if (!poll.held) continue;
      const body = this.collect(poll.limit);
      if (body !== undefined) sendUpdates(poll, body);
    }
    // Collecting may have dropped updates a poll does not allow.
    this.changed();
  }

  /** The JSON of up to `limit` deliverable updates joined by commas, or `undefined` for none. */
  private collect(limit: number): string | undefined {
    const entries = this.entries;
    const parts: string[] = [];
    for (let i = this.head; i < entries.length && parts.length < limit; i++) {
      const entry = entries[i];
      if (!entry.dropped && entry.type !== undefined && !this.isAllowed(entry.type)) {
        entry.dropped = true;
        this.pendingCount--;
      }
      if (entry.dropped) {
        if (i === this.head) this.head++;
        continue;
      }
      parts.push(entry.json);
      if (entry.delivered) this.stats.redelivered++;
      else entry.delivered = true;
    }
    this.stats.delivered += parts.length;
    this.compact();
    return parts.length === 0 ? undefined : parts.join(",");
  }

  private isAllowed(type: string): boolean {
    return this.allowed === undefined ? !OPT_IN_TYPES.has(type) : this.allowed.has(type);
  }

  /** Forgets every update with `seq < offset`. */
  private confirm(offset: number): void {
    if (offset > this.stats.confirmedOffset) this.stats.confirmedOffset = offset;
    if (this.monotonic) {
      const entries = this.entries;
      let head = this.head;
      while (head < entries.length && entries[head].seq < offset) {
        if (!entries[head].dropped) this.pendingCount--;
        head++;
      }
      this.head = head;
    } else {
      this.confirmUnordered(offset);
    }
    this.compact();
  }

  /** Confirming when update_ids were pushed out of order: every entry must be looked at. */
  private confirmUnordered(offset: number): void {
    const kept: Entry[] = [];
    let last = Number.NEGATIVE_INFINITY;
    let monotonic = true;
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry.seq >= offset) {
        kept.push(entry);
        if (entry.seq < last) monotonic = false;
        else last = entry.seq;
      } else if (!entry.dropped) this.pendingCount--;
    }
    this.entries = kept;
    this.head = 0;
    this.monotonic = monotonic;
    this.lastSeq = last;
  }

  /** Negative offsets: keeps the last `count` pending updates. */
  private keepLast(count: number): void {
    let lastDropped: number | undefined;
    while (this.pendingCount > count) {
      const entry = this.entries[this.head++];
      if (!entry.dropped) {
        this.pendingCount--;
        lastDropped = entry.seq;
      }
    }
    if (lastDropped !== undefined && lastDropped + 1 > this.stats.confirmedOffset)
      this.stats.confirmedOffset = lastDropped + 1;
    this.compact();
  }

  /** Releases the confirmed part of the queue without shifting it on every update. */
  private compact(): void {
    const entries = this.entries;
    if (this.head === 0) return;
    if (this.head >= entries.length) {
      entries.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= entries.length) {
      this.entries = entries.slice(this.head);
      this.head = 0;
    }
  }
}

function sendUpdates(poll: Exchange, joined: string): void {
  poll.send(200, `{"ok":true,"result":[${joined}]}`);
}

/** The update's type: its first key other than `update_id`. */
function updateType(update: object): string | undefined {
  for (const key in update) if (key !== "update_id") return key;
  return undefined;
}
