import type { AbortSignal as GrammySignal } from "abort-controller";
import { describeError, logger } from "../util/log.js";
import { sleep } from "../util/timers.js";
import type { ClusterFetcher } from "./cluster.js";
import { evalScript, type Keys, type RedisLike, SCRIPTS } from "./redis-store.js";
import type { StoreHealth } from "./store-health.js";

const log = logger("cluster");

/** What the leader needs to write a batch: each update with its partition. */
export interface Placement<Y> {
  partitionOf(update: Y): number;
}

export interface LeaderSettings {
  replica: string;
  leaseMs: number;
  maxBacklog: number;
}

/**
 * The leader lease and the polling it allows. Only the holder of the lease
 * calls getUpdates, and only while its lease is surely valid: it counts the
 * lease from before the renewal was sent, on its own monotonic clock, minus a
 * margin, while Redis counts it from when the renewal arrived; and each long
 * poll is short enough to end before that. A new leader therefore starts
 * polling only once the old one has stopped, so Telegram never sees two polls.
 * Every batch is written (fenced by the token) before the getUpdates that
 * confirms it is sent.
 */
export class Leadership<Y extends { update_id: number }> {
  takeovers = 0;
  written = 0;
  /** `<token>:<replica>` while leader. */
  private lease: string | undefined;
  /** performance.now() until which polling is allowed. */
  private validUntil = 0;
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  /** Aborts the poll in flight when the lease runs out or is lost. */
  private pollAbort: AbortController | undefined;
  private backlog = 0;
  /** A fetched batch whose write failed: written before anything else is fetched. */
  private unwritten: Y[] | undefined;
  private readonly margin: number;

  constructor(
    private readonly redis: RedisLike,
    private readonly keys: Keys,
    private readonly fetcher: ClusterFetcher<Y>,
    private readonly placement: Placement<Y>,
    private readonly settings: LeaderSettings,
    private readonly health: StoreHealth,
  ) {
    this.margin = Math.max(100, settings.leaseMs / 10);
  }

  isLeader(): boolean {
    return this.lease !== undefined && performance.now() < this.validUntil;
  }

  /** Runs until `signal` aborts: standby until the lease is free, then polls. Rejects only on fatal errors. */
  async run(signal: AbortSignal): Promise<void> {
    const tick = Math.min(500, Math.max(50, this.settings.leaseMs / 10));
    while (!signal.aborted) {
      try {
        if (!this.isLeader()) {
          this.lose();
          const wait = await this.tryAcquire();
          if (wait > 0) await sleep(Math.min(wait, tick), signal);
          continue;
        }
        await this.pollOnce(signal);
        this.health.ok();
      } catch (error) {
        if (signal.aborted) break;
        await this.health.failed("polling", error, signal);
      }
    }
    this.stopRenewing();
  }

  /**
   * Confirms the stored offset to Telegram while holding the lease, then
   * releases it. A replica that is not the leader takes a free lease first:
   * when every replica stops at once, or the leader's lease lapsed just
   * before, each of them would otherwise leave the confirmation to another.
   */
  async handOver(): Promise<void> {
    this.stopRenewing();
    if (this.lease === undefined) await this.tryAcquire();
    this.stopRenewing();
    const lease = this.lease;
    if (lease === undefined) return;
    try {
      // A batch that could not be stored must not be confirmed: the next leader fetches it again.
      if (this.isLeader() && this.unwritten === undefined) await this.fetcher.confirm();
    } finally {
      this.lease = undefined;
      await evalScript(this.redis, SCRIPTS.RELEASE, [this.keys.leader], [lease]);
      log("released the leader lease");
    }
  }

  /** Stops renewing; the lease expires by itself (used after failures). */
  stopRenewing(): void {
    if (this.renewTimer !== undefined) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.pollAbort?.abort();
  }

  /** Returns how long to wait before trying again, or 0 once leader. */
  private async tryAcquire(): Promise<number> {
    const sent = performance.now();
    const reply = (await evalScript(
      this.redis,
      SCRIPTS.ACQUIRE_LEADER,
      [this.keys.leader, this.keys.fence, this.keys.offset],
      [this.settings.replica, this.settings.leaseMs],
    )) as [number, number | string];
    this.health.ok();
    const [token, second] = reply;
    if (token === 0) return Math.max(1, Number(second) + 1);
    this.lease = `${token}:${this.settings.replica}`;
    this.validUntil = sent + this.settings.leaseMs - this.margin;
    const offset = Number(second);
    if (offset >= 0) this.fetcher.startAt(offset, true);
    this.takeovers++;
    // Unknown until measured: the previous leader may have left the streams full.
    this.backlog = Number.POSITIVE_INFINITY;
    log(`became the leader with fencing token ${token}, resuming at offset ${offset}`);
    this.renewTimer = setInterval(() => void this.renew(), this.settings.leaseMs / 3);
    return 0;
  }

  private async renew(): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) return;
    const sent = performance.now();
    try {
      const kept = await evalScript(
        this.redis,
        SCRIPTS.RENEW,
        [this.keys.leader],
        [lease, this.settings.leaseMs],
      );
      if (this.lease !== lease) return;
      if (kept === 1)
        this.validUntil = Math.max(this.validUntil, sent + this.settings.leaseMs - this.margin);
      else {
        log("lost the leader lease to another replica");
        this.lose();
      }
    } catch (error) {
      // The lease runs out by itself on our clock; the poll loop notices.
      log(`could not renew the leader lease: ${describeError(error)}`);
    }
  }

  private lose(): void {
    if (this.lease === undefined) return;
    this.lease = undefined;
    // Unconfirmed: the next leader fetches it again from the stored offset.
    this.unwritten = undefined;
    this.stopRenewing();
  }

  /** Waits out backpressure, long-polls within the lease, writes the batch fenced. */
  private async pollOnce(signal: AbortSignal): Promise<void> {
    if (this.unwritten !== undefined) {
      await this.write(this.unwritten);
      this.unwritten = undefined;
    }
    if (this.backlog > this.settings.maxBacklog) {
      await this.measureBacklog();
      if (this.backlog > this.settings.maxBacklog) {
        await sleep(Math.min(200, this.settings.leaseMs / 10), signal);
        return;
      }
    }
    const left = this.validUntil - performance.now() - this.margin;
    if (left <= 0) {
      await sleep(Math.min(100, this.settings.leaseMs / 20), signal);
      return;
    }
    const timeout = Math.floor(left / 1000);
    const updates = await this.fetchWithin(signal, timeout);
    if (updates.length > 0) {
      this.unwritten = updates;
      await this.write(updates);
      this.unwritten = undefined;
    } else if (timeout === 0) await sleep(100, signal);
  }

  private async fetchWithin(signal: AbortSignal, timeout: number): Promise<Y[]> {
    const abort = new AbortController();
    this.pollAbort = abort;
    const onAbort = () => abort.abort();
    signal.addEventListener("abort", onAbort);
    const timer = setTimeout(onAbort, Math.max(0, this.validUntil - performance.now()));
    try {
      return await this.fetcher.fetch(100, abort.signal as unknown as GrammySignal, timeout);
    } catch (error) {
      // Aborted as the lease ran out (or on stop): nothing was fetched.
      if (abort.signal.aborted) return [];
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      this.pollAbort = undefined;
    }
  }

  private async write(updates: readonly Y[]): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) throw new Error("lost the leader lease before storing a batch");
    const args: (string | number)[] = [lease, this.fetcher.nextOffset()];
    for (const u of updates)
      args.push(this.placement.partitionOf(u), u.update_id, JSON.stringify(u));
    const [written, total] = (await evalScript(
      this.redis,
      SCRIPTS.WRITE,
      [this.keys.leader, this.keys.hw, this.keys.offset, ...this.keys.streams],
      args,
    )) as [number, number];
    if (written < 0) {
      log("a batch was refused: another replica holds the leader lease");
      this.lose();
      return;
    }
    this.written += written;
    this.backlog = total;
  }

  private async measureBacklog(): Promise<void> {
    const lengths = await Promise.all(
      this.keys.streams.map((s) => this.redis.sendCommand(["XLEN", s])),
    );
    this.backlog = lengths.reduce((sum: number, n) => sum + Number(n), 0);
  }
}
