/**
 * A deadline on every Redis call of the cluster. node-redis times a command
 * out only while it waits to be sent; once sent, it waits for the answer as
 * long as the connection stays open. A server that hangs, or a network path
 * that drops packets without a reset, would then stall the leader, the
 * heartbeat and the consumers for good, silently. Here a call that gets no
 * answer in time fails like any other Redis error (logged, retried with
 * backoff), and a connection the cluster opened itself is replaced by a new
 * one, since later answers on the old one would queue behind the lost one.
 */
import { describeError, logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import type { RedisClient } from "./redis-options.js";
import type { RedisLike } from "./redis-store.js";

const log = logger("cluster");

/** How long a call may wait for its answer: far above any healthy round trip or blocking read. */
export const ANSWER_DEADLINE_MS = 10_000;

/**
 * Whether node-redis gave up on a call by its own timeout (a `TimeoutError`
 * while waiting to be sent, a `TimeoutReadError` with `rejectInFlight`).
 */
function isMissedDeadline(error: unknown): boolean {
  const type = (error as Error | undefined)?.constructor?.name;
  return type === "TimeoutError" || type === "TimeoutReadError";
}

/**
 * A node-redis client behind a deadline; `owned` clients are replaced by a
 * fresh duplicate after a missed deadline, others (the user's) are left as they are.
 *
 * @example
 * ```ts
 * const redis = new DeadlineRedis(await connect(url), true);
 * await redis.sendCommand(["PING"]); // rejects with a TimeoutError after 10 s without an answer
 * ```
 */
export class DeadlineRedis implements RedisLike {
  constructor(
    private client: RedisClient,
    private readonly owned: boolean,
    private readonly deadlineMs = ANSWER_DEADLINE_MS,
  ) {}

  sendCommand(args: readonly string[]): Promise<unknown> {
    const client = this.client;
    const sent = client.sendCommand(args as string[]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A stalled event loop fires timers before reading the socket: let an answer that came in first win.
        setImmediate(() => {
          const error = new Error(`Redis did not answer ${args[0]} within ${this.deadlineMs} ms`);
          error.name = "TimeoutError";
          reject(error);
          this.missed(client);
        });
      }, this.deadlineMs);
      sent.then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
          if (isMissedDeadline(error)) this.missed(client);
        },
      );
    });
  }

  /** Closes the current connection; calls under way reject. */
  destroy(): void {
    this.client.destroy();
  }

  /** Replaces `client` (if still current and ours) by a new connection with the same options. */
  private missed(client: RedisClient): void {
    if (!this.owned || client !== this.client) return;
    log("Redis did not answer in time; opening a new connection");
    const fresh = client.duplicate();
    fresh.on("error", (error: unknown) => log(`Redis connection: ${describeError(error)}`));
    this.client = fresh;
    client.destroy();
    // Calls wait in fresh's queue meanwhile; one that is not sent in time ends up here again.
    fresh.connect().catch(noop);
  }
}
