/**
 * The fake server's Bot API methods: what each request gets once no fault
 * stands in for its answer.
 */
import type { UserFromGetMe } from "grammy/types";
import type { UpdateBuilder } from "./builders.js";
import type { Exchange } from "./exchange.js";
import type { UpdateQueue } from "./update-queue.js";
import type { WebhookDelivery } from "./webhook-delivery.js";

/** What Telegram answers `getUpdates` while a webhook is set. */
const CONFLICT_WEBHOOK =
  "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

/**
 * Answers requests by method name: `getUpdates` from the queue, `getMe`, the
 * webhook methods, `sendMessage` with a message from the bot, and `true` for
 * every other method.
 */
export class Methods {
  /** `""`: no webhook, so polling is allowed. */
  private webhookUrl = "";

  constructor(
    private readonly botInfo: UserFromGetMe,
    private readonly queue: UpdateQueue,
    private readonly builder: UpdateBuilder,
    private readonly delivery: WebhookDelivery,
  ) {}

  answer(exchange: Exchange): void {
    const { params } = exchange;
    switch (exchange.method) {
      case "getUpdates":
        if (this.webhookUrl === "") this.queue.answer(exchange);
        else exchange.sendError(409, CONFLICT_WEBHOOK);
        return;
      case "getMe":
        exchange.ok(this.botInfo);
        return;
      case "setWebhook":
      case "deleteWebhook":
        this.setWebhook(exchange);
        return;
      case "getWebhookInfo":
        exchange.ok({
          url: this.webhookUrl,
          has_custom_certificate: false,
          pending_update_count: this.queue.pending + this.delivery.pending,
        });
        return;
      case "sendMessage":
        exchange.ok(this.builder.sentMessage(params));
        return;
      default:
        exchange.ok(true);
    }
  }

  /**
   * `setWebhook` and `deleteWebhook`: a webhook ends the polls waiting, blocks
   * new ones and receives the pending updates; deleting it gives the updates
   * not yet delivered back to polling.
   */
  private setWebhook(exchange: Exchange): void {
    const { params } = exchange;
    const url =
      exchange.method === "setWebhook" && typeof params.url === "string" ? params.url : "";
    const maxConnections = params.max_connections ?? 40;
    if (typeof maxConnections !== "number" || !(maxConnections >= 1 && maxConnections <= 100)) {
      exchange.sendError(400, "Bad Request: max_connections must be from 1 to 100");
      return;
    }
    if (params.drop_pending_updates === true) {
      this.queue.dropAll();
      this.delivery.clear();
    }
    this.webhookUrl = url;
    if (url === "") {
      for (const json of this.delivery.clear()) this.queue.pushRaw(JSON.parse(json));
    } else {
      this.queue.conflict(CONFLICT_WEBHOOK);
      this.queue.setAllowed(params.allowed_updates);
      const secret = typeof params.secret_token === "string" ? params.secret_token : undefined;
      // Another host is never contacted: its updates stay pending, as if unreachable.
      if (isLoopbackHttp(url)) {
        this.delivery.set(url, secret, Math.floor(maxConnections));
        this.delivery.add(this.queue.takeAll());
      } else for (const json of this.delivery.clear()) this.queue.pushRaw(JSON.parse(json));
    }
    exchange.ok(true);
  }
}

/** The fake server delivers over plain HTTP to 127.0.0.1 only. */
function isLoopbackHttp(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return protocol === "http:" && hostname === "127.0.0.1";
  } catch {
    return false;
  }
}
