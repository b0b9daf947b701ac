/**
 * The fake server's webhook delivery, as Telegram does it: once a webhook is
 * set, every update is POSTed to it with the secret header; a chat's next
 * update goes only after the previous one was answered with 2xx; at most
 * `max_connections` requests are open at once; a non-2xx answer, a network
 * error or no answer within the timeout makes the update be sent again after
 * a backoff that doubles per attempt.
 */
import { Agent, request } from "node:http";
import { timerDelay } from "../util/timers.js";
import type { FakeBotApiStats } from "./stats.js";

/**
 * How the fake server delivers to a webhook; the defaults are Telegram's
 * order of magnitude, too slow for most tests.
 *
 * @example
 * ```ts
 * const api = await createFakeBotApi({ webhook: { timeoutMs: 2_000, retryMs: 50 } });
 * ```
 */
export interface WebhookDeliveryOptions {
  /** How long a request may go unanswered before it counts as failed. Default 60,000. */
  timeoutMs?: number;
  /** Wait before the first re-send of an update; doubles per attempt. Default 1,000. */
  retryMs?: number;
  /** Longest wait between re-sends. Default 60,000. */
  maxRetryMs?: number;
}

interface Item {
  json: string;
  attempts: number;
}

/** One chat's updates not yet answered, oldest first. */
interface Line {
  items: Item[];
  /** Its head is being sent, or waits for a re-send. */
  busy: boolean;
}

interface Target {
  url: URL;
  secret: string | undefined;
  maxConnections: number;
}

/** Delivers updates to the webhook that `setWebhook` set. */
export class WebhookDelivery {
  private target: Target | undefined;
  private readonly lines = new Map<string, Line>();
  /** Chats whose head update can be sent now, in the order they became ready. */
  private ready: string[] = [];
  private inFlight = 0;
  private count = 0;
  /** Bumped by `clear()`, so that answers to abandoned requests are ignored. */
  private generation = 0;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly agent = new Agent({ keepAlive: true });
  private readonly timeoutMs: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;

  constructor(
    private readonly stats: FakeBotApiStats,
    options: Required<WebhookDeliveryOptions>,
    private readonly changed: () => void,
  ) {
    this.timeoutMs = options.timeoutMs;
    this.retryMs = options.retryMs;
    this.maxRetryMs = options.maxRetryMs;
  }

  get active(): boolean {
    return this.target !== undefined;
  }

  /** Updates handed over and not yet answered with 2xx. */
  get pending(): number {
    return this.count;
  }

  set(url: string, secret: string | undefined, maxConnections: number): void {
    this.target = { url: new URL(url), secret, maxConnections };
    this.dispatch();
  }

  /** Takes updates from the queue, each after the earlier ones of its chat. */
  add(jsons: readonly string[]): void {
    for (const json of jsons) {
      const key = chatKey(json);
      let line = this.lines.get(key);
      if (line === undefined) {
        line = { items: [], busy: false };
        this.lines.set(key, line);
      }
      line.items.push({ json, attempts: 0 });
      this.count++;
      if (!line.busy && line.items.length === 1) this.ready.push(key);
    }
    this.dispatch();
  }

  /** Stops delivering; returns the updates not answered yet, for polling to return. */
  clear(): string[] {
    this.target = undefined;
    this.generation++;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const left: string[] = [];
    for (const line of this.lines.values()) for (const item of line.items) left.push(item.json);
    this.lines.clear();
    this.ready = [];
    this.inFlight = 0;
    this.count = 0;
    return left;
  }

  close(): void {
    this.clear();
    this.agent.destroy();
  }

  private dispatch(): void {
    const target = this.target;
    if (target === undefined) return;
    while (this.inFlight < target.maxConnections && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      const line = this.lines.get(key);
      if (line !== undefined && line.items.length > 0) this.send(key, line, target);
    }
  }

  private send(key: string, line: Line, target: Target): void {
    const item = line.items[0];
    line.busy = true;
    this.inFlight++;
    if (this.inFlight > this.stats.webhookMaxConnections)
      this.stats.webhookMaxConnections = this.inFlight;
    this.stats.webhookDeliveries++;
    if (item.attempts > 0) this.stats.webhookResends++;
    item.attempts++;
    const generation = this.generation;
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (generation !== this.generation) return;
      this.inFlight--;
      if (ok) this.answered(key, line);
      else this.failed(key, line, item);
      this.changed();
      this.dispatch();
    };
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (target.secret !== undefined) headers["x-telegram-bot-api-secret-token"] = target.secret;
    const req = request(target.url, { method: "POST", headers, agent: this.agent }, (res) => {
      res.resume();
      res.on("end", () => finish(res.statusCode !== undefined && res.statusCode < 300));
      res.on("error", () => finish(false));
    });
    const timer = setTimeout(() => {
      finish(false);
      req.destroy();
    }, timerDelay(this.timeoutMs));
    req.on("error", () => finish(false));
    req.end(item.json);
  }

  private answered(key: string, line: Line): void {
    line.items.shift();
    line.busy = false;
    this.count--;
    this.stats.webhookAnswered++;
    if (line.items.length > 0) this.ready.push(key);
    else this.lines.delete(key);
  }

  private failed(key: string, line: Line, item: Item): void {
    this.stats.webhookFailures++;
    const wait = Math.min(this.maxRetryMs, this.retryMs * 2 ** (item.attempts - 1));
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      line.busy = false;
      this.ready.push(key);
      this.dispatch();
    }, timerDelay(wait));
    this.timers.add(timer);
  }
}

/**
 * The chat an update belongs to, for per-chat order: the chat of its
 * message, or the user it comes from; updates with neither are unordered.
 */
function chatKey(json: string): string {
  const update = JSON.parse(json) as Record<string, unknown>;
  for (const key in update) {
    if (key === "update_id") continue;
    const body = update[key] as {
      chat?: { id?: unknown };
      message?: { chat?: { id?: unknown } };
      from?: { id?: unknown };
      user?: { id?: unknown };
    } | null;
    const id = body?.chat?.id ?? body?.message?.chat?.id ?? body?.from?.id ?? body?.user?.id;
    if (id !== undefined) return `chat:${String(id)}`;
  }
  return `update:${String(update.update_id)}`;
}
