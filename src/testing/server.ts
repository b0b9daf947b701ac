/**
 * The fake server itself: the HTTP listener, routing of `/bot<token>/<method>`
 * requests, and the {@link FakeBotApi} methods, which hand their work to the
 * update queue, the builders, the faults, the call log and the waiters.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Update, UserFromGetMe } from "grammy/types";
import { logger } from "../util/log.js";
import { noop } from "../util/noop.js";
import { timerDelay } from "../util/timers.js";
import {
  type CallbackQueryOptions,
  type MessageOptions,
  type MessagesOptions,
  UpdateBuilder,
} from "./builders.js";
import { Exchange, type ExchangeHooks, respondError } from "./exchange.js";
import type { FakeBotApi } from "./fake-bot-api.js";
import { answerFault, type Fault, FaultQueue } from "./faults.js";
import { Methods } from "./methods.js";
import { BadRequestError, parseParams } from "./params.js";
import { CallLog, type FakeBotApiStats, type RecordedCall } from "./stats.js";
import { UpdateQueue } from "./update-queue.js";
import { Waiters } from "./waiters.js";
import { WebhookDelivery, type WebhookDeliveryOptions } from "./webhook-delivery.js";

const log = logger("testing");

/** The {@link FakeBotApi} that `createFakeBotApi()` starts. */
export class FakeBotApiServer implements FakeBotApi {
  readonly token: string;
  readonly botInfo: UserFromGetMe;
  readonly stats: FakeBotApiStats;

  private readonly server: Server;
  private listeningUrl = "";
  private readonly callLog = new CallLog();
  private readonly faults = new FaultQueue();
  private readonly queue: UpdateQueue;
  private readonly builder: UpdateBuilder;
  private readonly methods: Methods;
  private readonly waiters: Waiters<FakeBotApi>;
  private readonly delivery: WebhookDelivery;
  /** Requests received and not answered yet. */
  private readonly open = new Set<Exchange>();
  private readonly hooks: ExchangeHooks;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    token: string,
    botInfo: UserFromGetMe,
    maxUpdates: number,
    webhook: Required<WebhookDeliveryOptions>,
  ) {
    this.token = token;
    this.botInfo = botInfo;
    this.stats = this.callLog.stats;
    this.waiters = new Waiters<FakeBotApi>(this, () => this.describeState());
    const notify = () => this.waiters.notify();
    this.delivery = new WebhookDelivery(this.stats, webhook, notify);
    // While a webhook is set, every pushed update goes straight to its delivery.
    const changed = () => {
      if (this.delivery.active) this.delivery.add(this.queue.takeAll());
      notify();
    };
    this.queue = new UpdateQueue(this.stats, maxUpdates, changed);
    this.builder = new UpdateBuilder(botInfo);
    this.methods = new Methods(botInfo, this.queue, this.builder, this.delivery);
    this.hooks = {
      finished: (exchange) => {
        this.open.delete(exchange);
        this.queue.release(exchange);
      },
      answered: changed,
    };
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on("connection", () => {
      this.stats.connections++;
    });
  }

  get url(): string {
    return this.listeningUrl;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    this.listeningUrl = `http://127.0.0.1:${port}`;
    log(`fake Bot API listening on ${this.listeningUrl}`);
  }

  // === Updates

  pushUpdate = (update: Omit<Update, "update_id"> & { update_id?: number }): Update =>
    this.queue.push(update);

  pushRaw = (value: unknown): void => this.queue.pushRaw(value);

  pushMessage = (chatId: number, text = "hello", options?: MessageOptions): Update =>
    this.pushUpdate(this.builder.message(chatId, text, options));

  pushMessages = (options: MessagesOptions): Update[] =>
    this.builder.messages(options, this.pushUpdate);

  pushCallbackQuery = (options: CallbackQueryOptions): Update =>
    this.pushUpdate(this.builder.callbackQuery(options));

  pushEditedMessage = (chatId: number, messageId: number, text: string): Update =>
    this.pushUpdate(this.builder.editedMessage(chatId, messageId, text));

  pending = (): number => this.queue.pending + this.delivery.pending;

  // === Faults, records, waiting

  inject = (fault: Fault, options?: { times?: number; method?: string }): void =>
    this.faults.inject(fault, options);

  clearFaults = (method?: string): void => this.faults.clear(method);

  calls = (method?: string): RecordedCall[] => this.callLog.calls(method);

  resetCalls = (): void => {
    this.callLog.reset(this.queue.openPolls);
    this.waiters.notify();
  };

  closeIdleConnections = (): void => this.server.closeIdleConnections();

  waitFor = (predicate: (api: FakeBotApi) => boolean, timeoutMs = 10_000): Promise<void> =>
    this.waiters.waitFor(predicate, timeoutMs);

  close = (): Promise<void> => {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    this.delivery.close();
    for (const exchange of this.open) exchange.finish();
    this.waiters.close();
    this.closing = new Promise<void>((resolve) => {
      // The listening handle is freed in the loop's close phase, after this
      // callback; resolving a timer later means no handle is left over.
      this.server.close(() => setTimeout(resolve, 0));
      this.server.closeAllConnections();
    });
    log("fake Bot API closed");
    return this.closing;
  };

  private describeState(): string {
    const s = this.stats;
    return `pending ${this.pending()}, webhook deliveries ${s.webhookDeliveries}, re-sends ${s.webhookResends}, confirmedOffset ${s.confirmedOffset}, getUpdates calls ${s.getUpdatesCalls}, delivered ${s.delivered}, redelivered ${s.redelivered}, recorded calls ${this.callLog.size}`;
  }

  // === HTTP

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const path = q === -1 ? target : target.slice(0, q);
    const match = /^\/bot([^/]+)\/(?:test\/)?([A-Za-z0-9_]+)$/.exec(path);
    if (match === null || this.closed) {
      req.resume();
      respondError(res, 404, "Not Found");
      return;
    }
    if (safeDecode(match[1]) !== this.token) {
      req.resume();
      respondError(res, 401, "Unauthorized");
      return;
    }
    const exchange = new Exchange(match[2], res, this.hooks);
    this.open.add(exchange);
    res.on("close", () => {
      if (exchange.done) return;
      // The client went away (e.g. grammY aborted a long poll on bot.stop()).
      exchange.finish();
      this.waiters.notify();
    });
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", noop);
    req.on("end", () => {
      if (exchange.done) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      this.handle(exchange, req.headers["content-type"], body, q === -1 ? "" : target.slice(q + 1));
    });
  }

  /** Parses a request's parameters and answers it, with 400 for what it cannot. */
  private handle(
    exchange: Exchange,
    contentType: string | undefined,
    body: Buffer,
    query: string,
  ): void {
    try {
      exchange.params = parseParams(contentType, body, query);
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
      exchange.sendError(400, error.message);
      return;
    }
    this.received(exchange);
  }

  private received(exchange: Exchange): void {
    const { method } = exchange;
    this.callLog.record(method, exchange.params);
    if (method === "getUpdates") this.queue.register(exchange);
    const fault = this.faults.take(method);
    if (fault === undefined) this.answer(exchange);
    else if (fault.type === "delay") {
      exchange.timer = setTimeout(() => {
        exchange.timer = undefined;
        this.answer(exchange);
        this.waiters.notify();
      }, timerDelay(fault.ms));
    } else if (fault.type === "close") {
      exchange.res.shouldKeepAlive = false;
      this.answer(exchange);
    } else answerFault(exchange, fault);
    this.waiters.notify();
  }

  /** The method's normal answer, now or after a `delay` fault, with 400 for what it cannot handle. */
  private answer(exchange: Exchange): void {
    try {
      this.methods.answer(exchange);
    } catch (error) {
      // Input nothing anticipated (e.g. a chat_id that cannot become a
      // string) must fail this request, not the test process.
      if (!exchange.done)
        exchange.sendError(
          400,
          `Bad Request: ${error instanceof Error ? error.message : String(error)}`,
        );
    }
  }
}

/** The token from a request path; a malformed escape is compared as written. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
