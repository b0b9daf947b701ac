/**
 * The checks every webhook request passes before its update is looked at:
 * method, secret, state, body size and shape. Shared by the single-process
 * intake and the cluster's.
 */
import { describeError } from "../util/log.js";
import type { WebhookCounters } from "./intake.js";
import {
  answer,
  BodyTooLargeError,
  type IncomingWebhook,
  parseUpdate,
  secretChecker,
  type WebhookAnswer,
} from "./request.js";

/** What an intake gives {@link checkRequest}. */
export interface RequestGate {
  maxBodySize: number;
  counters: WebhookCounters;
  checkSecret: (given: string | undefined) => boolean;
  /** Whether updates are taken now. */
  running: () => boolean;
  /** The answer while not running (503, counted). */
  refuse: () => WebhookAnswer;
}

/**
 * The gate of an intake: its limits and counters, and whether it runs now.
 *
 * @example
 * ```ts
 * this.gate = requestGate(options, this.counters, this);
 * ```
 */
export function requestGate(
  options: { maxBodySize: number; secretToken: string | undefined },
  counters: WebhookCounters,
  intake: { readonly running: boolean; refuse(): WebhookAnswer },
): RequestGate {
  return {
    maxBodySize: options.maxBodySize,
    counters,
    checkSecret: secretChecker(options.secretToken),
    running: () => intake.running,
    refuse: () => intake.refuse(),
  };
}

/**
 * The update of a request that passed every check, or the answer to a
 * request that did not (counted in `gate.counters`).
 *
 * @example
 * ```ts
 * const checked = await checkRequest(request, gate);
 * if ("answer" in checked) return checked.answer;
 * ```
 */
export async function checkRequest(
  req: IncomingWebhook,
  gate: RequestGate,
): Promise<{ update: { update_id: number } } | { answer: WebhookAnswer }> {
  const c = gate.counters;
  if (req.method !== "POST") {
    c.wrongMethod++;
    return {
      answer: answer(405, "Method Not Allowed: Telegram sends updates with POST", {
        allow: "POST",
      }),
    };
  }
  if (!gate.checkSecret(req.secret)) {
    c.unauthorized++;
    return { answer: answer(401, "Unauthorized: wrong secret token") };
  }
  if (!gate.running()) return { answer: gate.refuse() };
  let body: unknown;
  try {
    body = await req.body(gate.maxBodySize);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      c.tooLarge++;
      return { answer: answer(413, `Payload Too Large: the limit is ${error.maxBytes} bytes`) };
    }
    c.badRequests++;
    return {
      answer: answer(400, `Bad Request: the body could not be read (${describeError(error)})`),
    };
  }
  const parsed = parseUpdate(body);
  if ("error" in parsed) {
    c.badRequests++;
    return { answer: answer(400, parsed.error) };
  }
  return parsed;
}
