/**
 * The fake server's counters and its record of the requests it received.
 */

/**
 * Counters of a {@link FakeBotApi}; {@link FakeBotApi.stats} is always current.
 *
 * @example
 * ```ts
 * const { delivered, redelivered, confirmedOffset } = api.stats;
 * expect(redelivered).toBe(0);
 * ```
 */
export interface FakeBotApiStats {
  /** `getUpdates` requests received (including answered with a fault). */
  getUpdatesCalls: number;
  /** Highest `offset` any `getUpdates` request has confirmed (0 initially). */
  confirmedOffset: number;
  /** Updates returned by `getUpdates`, counting each time one is returned. */
  delivered: number;
  /** Of `delivered`, those returned again after an earlier delivery without being confirmed. */
  redelivered: number;
  /** Requests per method name, `getUpdates` included. */
  methodCalls: Record<string, number>;
  /** Highest number of `getUpdates` requests open at the same time (2 or more means overlapping polls). */
  maxConcurrentPolls: number;
  /** Webhook requests sent (each POST of an update, re-sends included). */
  webhookDeliveries: number;
  /** Of those, re-sends of an update whose earlier request failed or timed out. */
  webhookResends: number;
  /** Webhook requests answered with 2xx: updates delivered for good. */
  webhookAnswered: number;
  /** Webhook requests that failed: non-2xx answer, network error or timeout. */
  webhookFailures: number;
  /** Highest number of webhook requests open at the same time. */
  webhookMaxConnections: number;
  /** TCP connections accepted (a keep-alive client opens few). */
  connections: number;
}

/**
 * A request the fake server received, see {@link FakeBotApi.calls}.
 *
 * @example
 * ```ts
 * const [call] = api.calls("sendMessage");
 * expect(call.params).toMatchObject({ chat_id: 1, text: "hi" });
 * ```
 */
export interface RecordedCall {
  /** The method name as it appeared in the URL. */
  method: string;
  /** The parsed parameters (JSON body, form fields or query string). */
  params: Record<string, unknown>;
  /** `Date.now()` when the request was received. */
  at: number;
}

/**
 * Counts requests into {@link FakeBotApiStats} and keeps them for `calls()`.
 * `getUpdates` requests are only counted, and the last one kept: a polling
 * bot sends them for as long as it runs, and keeping them all would grow the
 * record without bound.
 */
export class CallLog {
  readonly stats: FakeBotApiStats = {
    getUpdatesCalls: 0,
    confirmedOffset: 0,
    delivered: 0,
    redelivered: 0,
    methodCalls: {},
    maxConcurrentPolls: 0,
    webhookDeliveries: 0,
    webhookResends: 0,
    webhookAnswered: 0,
    webhookFailures: 0,
    webhookMaxConnections: 0,
    connections: 0,
  };
  private recorded: RecordedCall[] = [];
  private lastGetUpdates: RecordedCall | undefined;

  /** Recorded calls, `getUpdates` aside. */
  get size(): number {
    return this.recorded.length;
  }

  record(method: string, params: Record<string, unknown>): void {
    const { stats } = this;
    // Own properties only: a method called "constructor" must not find Object's.
    stats.methodCalls[method] =
      (Object.hasOwn(stats.methodCalls, method) ? stats.methodCalls[method] : 0) + 1;
    if (method === "getUpdates") {
      stats.getUpdatesCalls++;
      this.lastGetUpdates = { method, params, at: Date.now() };
    } else {
      this.recorded.push({ method, params, at: Date.now() });
    }
  }

  calls(method?: string): RecordedCall[] {
    if (method === undefined) return this.recorded.slice();
    if (method === "getUpdates")
      return this.lastGetUpdates === undefined ? [] : [this.lastGetUpdates];
    return this.recorded.filter((call) => call.method === method);
  }

  /** Forgets the calls and zeroes the counters but `confirmedOffset`; `openPolls` are still open. */
  reset(openPolls: number): void {
    this.recorded = [];
    this.lastGetUpdates = undefined;
    const { stats } = this;
    stats.getUpdatesCalls = 0;
    stats.delivered = 0;
    stats.redelivered = 0;
    for (const key of Object.keys(stats.methodCalls)) delete stats.methodCalls[key];
    stats.maxConcurrentPolls = openPolls;
    stats.webhookDeliveries = 0;
    stats.webhookResends = 0;
    stats.webhookAnswered = 0;
    stats.webhookFailures = 0;
    stats.webhookMaxConnections = 0;
    stats.connections = 0;
  }
}
