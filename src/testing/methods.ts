/**
 * The fake server's Bot API methods: what each request gets once no fault
 * stands in for its answer.
 */
import type { UserFromGetMe } from "grammy/types";
import type { UpdateBuilder } from "./builders.js";
import type { Exchange } from "./exchange.js";
import type { UpdateQueue } from "./update-queue.js";

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
          pending_update_count: this.queue.pending,
        });
        return;
      case "sendMessage":
        exchange.ok(this.builder.sentMessage(params));
        return;
      default:
        exchange.ok(true);
    }
  }

  /** `setWebhook` and `deleteWebhook`: a webhook ends the polls waiting and blocks new ones. */
  private setWebhook(exchange: Exchange): void {
    const { params } = exchange;
    if (params.drop_pending_updates === true) this.queue.dropAll();
    const url =
      exchange.method === "setWebhook" && typeof params.url === "string" ? params.url : "";
    this.webhookUrl = url;
    if (url !== "") this.queue.conflict(CONFLICT_WEBHOOK);
    exchange.ok(true);
  }
}
