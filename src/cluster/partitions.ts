import { markReplayed } from "../journal/journal.js";
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { sleep } from "../util/timers.js";
import {
  type Entry,
  entriesOf,
  evalScript,
  GROUP,
  type Keys,
  type RedisLike,
  SCRIPTS,
  streamsOf,
} from "./redis-store.js";
import type { StoreHealth } from "./store-health.js";

const log = logger("cluster");
/** How long one XREADGROUP waits for entries: also how soon new partitions are read. */
const BLOCK_MS = 250;
/** Longest time between heartbeats. */
const HEARTBEAT_MS = 1_000;
/**
 * How long acknowledgements wait for a read to go with (one write to Redis
 * for both) before they are sent on their own.
 */
const ACK_DELAY_MS = 20;

/** Where an update handed out came from, so that its settle can acknowledge it. */
interface Origin {
  partition: number;
  id: string;
}

/**
 * The partitions one replica consumes. Every heartbeat refreshes its
 * membership and partition leases; partition i belongs to the live member at
 * index `i % members` in id order, so all replicas agree without talking. A
 * partition this replica gains is read from its pending entries first (those
 * another replica left unacknowledged, handed out as replayed), then from new
 * ones; a partition it should give up is no longer read, and its lease is
 * released once its updates in flight are acknowledged.
 */
export class Partitions<Y extends { update_id: number }> {
  replayed = 0;
  lag = 0;
  /** Partitions whose lease this replica holds. */
  private readonly held = new Set<number>();
  /** Held partitions whose pending entries are not yet claimed: the next claim's start. */
  private readonly replaying = new Map<number, string>();
  /** Held partitions to give up once their updates in flight are done. */
  private readonly draining = new Set<number>();
  private readonly inFlight = new Map<number, number>();
  private readonly origins = new Map<Y, Origin>();
  /** `<partition>/<entry id>` of the updates handed out and not yet settled. */
  private readonly handedOut = new Set<string>();
  private acks: Origin[] = [];
  private flushing: Promise<void> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set by close(): nothing more is sent. */
  private closed = false;
  private reading: number[] = [];
  private readonly groups = new Set<number>();
  /** performance.now() until which the partition leases surely hold (the last heartbeat's). */
  private validUntil = 0;

  constructor(
    private readonly redis: RedisLike,
    private readonly reader: RedisLike,
    private readonly keys: Keys,
    private readonly replica: string,
    private readonly leaseMs: number,
    private readonly health: StoreHealth,
  ) {}

  private leased(): boolean {
    return performance.now() < this.validUntil;
  }

  owned(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  /** Heartbeats until `signal` aborts; rejects only on fatal errors. */
  async run(signal: AbortSignal): Promise<void> {
    // Often enough to rebalance within a second, and at least 4 times per lease.
    const interval = Math.min(this.leaseMs / 4, HEARTBEAT_MS);
    while (!signal.aborted) {
      try {
        const started = performance.now();
        await this.heartbeat();
        this.health.ok();
        // Counted from the start: a slow heartbeat must not delay the next renewal.
        await sleep(Math.max(0, interval - (performance.now() - started)), signal);
      } catch (error) {
        if (signal.aborted) break;
        await this.health.failed("renewing partition leases", error, signal);
      }
    }
  }

  /** One heartbeat: membership, lease renewal, gains and losses, releases. */
  async heartbeat(): Promise<void> {
    const sent = performance.now();
    const held = [...this.held];
    const [members, kept] = (await evalScript(
      this.redis,
      SCRIPTS.HEARTBEAT,
      [this.keys.members, ...this.keys.parts],
      [this.replica, this.leaseMs, ...held],
    )) as [string[], string[]];
    const keptSet = new Set(kept.map(Number));
    // Counted from before the renewal was sent, less a margin, as the leader's lease.
    this.validUntil = sent + this.leaseMs - Math.max(100, this.leaseMs / 10);
    for (const p of held) if (!keptSet.has(p)) this.forget(p, "its lease expired");
    const sorted = [...members].sort();
    const me = sorted.indexOf(this.replica);
    const wanted = this.keys.parts
      .map((_, p) => p)
      .filter((p) => me >= 0 && p % sorted.length === me);
    await this.acquire(wanted.filter((p) => !this.held.has(p)));
    for (const p of this.held)
      if (!wanted.includes(p) && !this.draining.has(p)) this.draining.add(p);
    await this.releaseDrained();
    await this.measureLag();
  }

  /** Replayed entries first, else new ones; at most about `count`. */
  async next(count: number): Promise<Y[]> {
    // A replica paused past its leases (starved of CPU, cut off) takes nothing more.
    if (!this.leased()) return idle();
    const claimed = await this.claim(count);
    if (claimed.length > 0) return claimed;
    const live = this.owned().filter((p) => !this.replaying.has(p) && !this.draining.has(p));
    if (live.length === 0) return idle();
    await this.ensureGroups(live);
    const per = Math.max(1, Math.floor(count / live.length));
    this.reading = live;
    // Queued in the same tick as the read: one write to Redis carries both.
    if (this.flushing === undefined) void this.flush(this.reader).catch(noop);
    let reply: unknown;
    try {
      reply = await this.reader.sendCommand([
        "XREADGROUP",
        "GROUP",
        GROUP,
        this.replica,
        "COUNT",
        String(per),
        "BLOCK",
        String(BLOCK_MS),
        "STREAMS",
        ...live.map((p) => this.keys.streams[p]),
        ...live.map(() => ">"),
      ]);
    } catch (error) {
      if (String((error as Error)?.message).includes("NOGROUP")) this.groups.clear();
      // Redis may have delivered entries whose reply was lost: claim this consumer's pending ones.
      for (const p of live) if (this.held.has(p)) this.replaying.set(p, "0-0");
      throw error;
    } finally {
      this.reading = [];
    }
    const out: Y[] = [];
    for (const [stream, list] of streamsOf(reply)) {
      const p = this.keys.streams.indexOf(stream);
      if (p < 0) continue;
      // Read as the lease ran out: left pending, for whoever holds the partition next.
      if (!this.leased()) this.replaying.set(p, "0-0");
      else out.push(...this.take(p, entriesOf(list), false));
    }
    return out;
  }

  /** The runner is done with `update`: acknowledge and delete its entry. */
  settle(update: Y): void {
    const origin = this.origins.get(update);
    if (origin === undefined) return;
    this.origins.delete(update);
    this.handedOut.delete(`${origin.partition}/${origin.id}`);
    this.inFlight.set(origin.partition, (this.inFlight.get(origin.partition) ?? 1) - 1);
    this.acks.push(origin);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      void this.flush().catch(noop);
    }, ACK_DELAY_MS);
  }

  /**
   * Sends the pending acknowledgements in one script call, on `via` (the
   * reader's connection when they go with a read); kept on failure.
   */
  async flush(via: RedisLike = this.redis): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.acks.length === 0 || this.closed) return;
    const batch = this.acks;
    this.acks = [];
    const byStream = new Map<number, string[]>();
    for (const { partition, id } of batch) {
      const ids = byStream.get(partition) ?? [];
      ids.push(id);
      byStream.set(partition, ids);
    }
    const streams: string[] = [];
    const args: string[] = [GROUP];
    for (const [p, ids] of byStream) {
      streams.push(this.keys.streams[p]);
      args.push(String(ids.length), ...ids);
    }
    this.flushing = evalScript(via, SCRIPTS.ACK, streams, args).then(
      () => undefined,
      (error: unknown) => {
        log(`acknowledging ${batch.length} entries failed, retrying: ${describeError(error)}`);
        this.acks.unshift(...batch);
        setTimeout(() => void this.flush().catch(noop), 500);
        throw error;
      },
    );
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  /** Sends nothing more (the connections are closing); unsent acknowledgements are dropped. */
  close(): void {
    this.closed = true;
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
  }

  /** Gives every lease back (after a drain), so others take over at once. */
  async releaseAll(): Promise<void> {
    const held = [...this.held];
    this.held.clear();
    this.replaying.clear();
    this.draining.clear();
    await Promise.all([
      ...held.map((p) =>
        evalScript(this.redis, SCRIPTS.RELEASE, [this.keys.parts[p]], [this.replica]),
      ),
      this.redis.sendCommand(["ZREM", this.keys.members, this.replica]),
    ]);
  }

  private async acquire(partitions: number[]): Promise<void> {
    const answers = await Promise.all(
      partitions.map((p) =>
        this.redis.sendCommand([
          "SET",
          this.keys.parts[p],
          this.replica,
          "NX",
          "PX",
          String(this.leaseMs),
        ]),
      ),
    );
    partitions.forEach((p, i) => {
      if (answers[i] !== "OK") return;
      this.held.add(p);
      this.replaying.set(p, "0-0");
      log(`took partition ${p}`);
    });
  }

  private async claim(count: number): Promise<Y[]> {
    for (const [p, start] of this.replaying) {
      await this.ensureGroups([p]);
      const reply = (await this.redis.sendCommand([
        "XAUTOCLAIM",
        this.keys.streams[p],
        GROUP,
        this.replica,
        "0",
        start,
        "COUNT",
        String(Math.max(1, count)),
      ])) as [string, unknown];
      const next = reply[0];
      if (next === "0-0") this.replaying.delete(p);
      else this.replaying.set(p, next);
      if (!this.leased()) {
        this.replaying.set(p, start);
        return [];
      }
      const updates = this.take(p, entriesOf(reply[1]), true);
      if (updates.length > 0) return updates;
    }
    return [];
  }

  private take(partition: number, entries: Entry[], replayed: boolean): Y[] {
    const out: Y[] = [];
    for (const { id, json } of entries) {
      // A claim after a failed read also returns entries this replica is still handling.
      if (this.handedOut.has(`${partition}/${id}`)) continue;
      this.handedOut.add(`${partition}/${id}`);
      const update = JSON.parse(json) as Y;
      this.origins.set(update, { partition, id });
      if (replayed) markReplayed(update);
      out.push(update);
    }
    this.inFlight.set(partition, (this.inFlight.get(partition) ?? 0) + out.length);
    if (replayed) this.replayed += out.length;
    return out;
  }

  private async ensureGroups(partitions: number[]): Promise<void> {
    for (const p of partitions) {
      if (this.groups.has(p)) continue;
      try {
        await this.redis.sendCommand([
          "XGROUP",
          "CREATE",
          this.keys.streams[p],
          GROUP,
          "0",
          "MKSTREAM",
        ]);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith("BUSYGROUP")) throw error;
      }
      this.groups.add(p);
    }
  }

  private async releaseDrained(): Promise<void> {
    for (const p of this.draining) {
      if ((this.inFlight.get(p) ?? 0) > 0 || this.reading.includes(p)) continue;
      await this.flush();
      this.forget(p, "it belongs to another replica now");
      await evalScript(this.redis, SCRIPTS.RELEASE, [this.keys.parts[p]], [this.replica]);
    }
  }

  private forget(p: number, why: string): void {
    this.held.delete(p);
    this.replaying.delete(p);
    this.draining.delete(p);
    log(`gave up partition ${p}: ${why}`);
  }

  private async measureLag(): Promise<void> {
    const lengths = await Promise.all(
      this.owned().map((p) => this.redis.sendCommand(["XLEN", this.keys.streams[p]])),
    );
    this.lag = lengths.reduce((sum: number, n) => sum + Number(n), 0);
  }
}

/**
 * Nothing to read: waits as a blocking read would before answering, so that
 * the caller's loop cannot spin without ever yielding to timers (the
 * heartbeat that would give it something to read runs on one).
 */
function idle<T>(): Promise<T[]> {
  return new Promise((resolve) => setTimeout(() => resolve([]), BLOCK_MS));
}

/** How long a replica without partitions waits before looking again. */
const IDLE_MS = 250;

/**
 * This replica's next batch from its partitions, replays first: waits while
 * it holds none, and rides out store failures (logged, with backoff) until
 * `signal` aborts (then an empty batch) or a failure will not heal (thrown).
 *
 * @example
 * ```ts
 * const batch = await nextShare(partitions, health, 100, signal);
 * ```
 */
export async function nextShare<Y extends { update_id: number }>(
  partitions: Partitions<Y>,
  health: StoreHealth,
  batchSize: number,
  signal: AbortSignal,
): Promise<Y[]> {
  for (;;) {
    if (health.fatal !== undefined) throw health.fatal.error;
    try {
      const batch = await partitions.next(batchSize);
      health.ok();
      if (batch.length > 0 || signal.aborted) return batch;
      if (partitions.owned().length === 0) await sleep(IDLE_MS, signal);
    } catch (error) {
      await health.failed("reading updates", error, signal);
      if (signal.aborted) return [];
    }
  }
}
