/**
 * Fault injection: answers the fake server gives instead of the normal one,
 * queued per method.
 */
import { STATUS_CODES } from "node:http";
import { logger } from "../util/log.js";
import {
  checkDuration,
  checkNumber,
  checkOneOf,
  optionalObject,
  rejectUnknownKeys,
  show,
} from "../util/options.js";
import type { Exchange } from "./exchange.js";
import { CONFLICT_POLL } from "./update-queue.js";

const log = logger("testing");

const FAULT_TYPES = [
  "http",
  "retry_after",
  "unauthorized",
  "conflict",
  "non_json",
  "result",
  "drop",
  "delay",
  "close",
] as const;

/**
 * A fault that the fake server answers a request with instead of its normal
 * answer; queue faults with {@link FakeBotApi.inject}.
 *
 * - `http`: `status` with `{ ok: false, error_code, description }`
 *   (description defaults to the status text, e.g. "Bad Gateway").
 * - `retry_after`: 429 with `parameters.retry_after`.
 * - `unauthorized`: 401 "Unauthorized".
 * - `conflict`: 409, as when another instance polls the same bot.
 * - `non_json`: 200 with an HTML body.
 * - `result`: 200 `{ ok: true, result: value }` for any `value`, e.g. a malformed update list.
 * - `drop`: the connection is destroyed without an answer.
 * - `delay`: the normal answer, `ms` milliseconds late.
 * - `close`: the normal answer, with `Connection: close`; the server then closes
 *   the connection, as servers and proxies do with keep-alive connections.
 *
 * @example
 * ```ts
 * api.inject({ type: "http", status: 502 }, { times: 3 });
 * api.inject({ type: "retry_after", seconds: 1 }, { method: "sendMessage" });
 * api.inject({ type: "result", value: [{}] });
 * ```
 */
export type Fault =
  | { type: "http"; status: number; description?: string }
  | { type: "retry_after"; seconds: number }
  | { type: "unauthorized" }
  | { type: "conflict" }
  | { type: "non_json" }
  | { type: "result"; value: unknown }
  | { type: "drop" }
  | { type: "delay"; ms: number }
  | { type: "close" };

/** The faults not used yet, per method, each with the number of requests it still answers. */
export class FaultQueue {
  private readonly byMethod = new Map<string, { fault: Fault; remaining: number }[]>();

  inject(fault: Fault, options: { times?: number; method?: string } | undefined): void {
    const checked = checkFault(fault);
    const opts = optionalObject("options", options, ["times", "method"]);
    const times =
      opts.times === undefined
        ? 1
        : checkNumber("options.times", opts.times, { min: 1, integer: true });
    const method = opts.method ?? "getUpdates";
    if (typeof method !== "string" || method === "")
      throw new TypeError(
        `Option \`options.method\` must be a method name, but got ${show(method)}.`,
      );
    let list = this.byMethod.get(method);
    if (list === undefined) {
      list = [];
      this.byMethod.set(method, list);
    }
    list.push({ fault: checked, remaining: times });
  }

  clear(method: string | undefined): void {
    if (method === undefined) this.byMethod.clear();
    else this.byMethod.delete(method);
  }

  /** The fault for this request of `method`, used up, or `undefined` to answer normally. */
  take(method: string): Fault | undefined {
    if (this.byMethod.size === 0) return undefined;
    const list = this.byMethod.get(method);
    if (list === undefined || list.length === 0) return undefined;
    const first = list[0];
    if (--first.remaining <= 0) list.shift();
    log(`injecting ${first.fault.type} into ${method}`);
    return first.fault;
  }
}

/** Answers `exchange` with `fault`; a delay is not an answer, the caller waits it out. */
export function answerFault(
  exchange: Exchange,
  fault: Exclude<Fault, { type: "delay" | "close" }>,
): void {
  switch (fault.type) {
    case "http":
      exchange.sendError(fault.status, fault.description ?? STATUS_CODES[fault.status] ?? "Error");
      return;
    case "retry_after":
      exchange.send(
        429,
        JSON.stringify({
          ok: false,
          error_code: 429,
          description: `Too Many Requests: retry after ${fault.seconds}`,
          parameters: { retry_after: fault.seconds },
        }),
      );
      return;
    case "unauthorized":
      exchange.sendError(401, "Unauthorized");
      return;
    case "conflict":
      exchange.sendError(409, CONFLICT_POLL);
      return;
    case "non_json":
      exchange.send(200, "<html>oops</html>", "text/html");
      return;
    case "result":
      exchange.ok(fault.value);
      return;
    case "drop":
      exchange.drop();
      return;
  }
}

/** Checks a fault from the caller, returning a copy with only the known fields. */
function checkFault(fault: Fault): Fault {
  const value = optionalObject("fault", fault) as Partial<Fault> & Record<string, unknown>;
  const type = checkOneOf("fault.type", value.type, FAULT_TYPES);
  switch (type) {
    case "http":
      return checkHttpFault(value);
    case "retry_after":
      rejectUnknownKeys("fault", value, ["type", "seconds"]);
      return { type, seconds: checkNumber("fault.seconds", value.seconds, { min: 0, max: 1e9 }) };
    case "delay":
      rejectUnknownKeys("fault", value, ["type", "ms"]);
      return { type, ms: checkDuration("fault.ms", value.ms) };
    case "result":
      rejectUnknownKeys("fault", value, ["type", "value"]);
      // Checked now, not when a request finds it: it is sent as JSON.
      try {
        JSON.stringify(value.value);
      } catch (error) {
        throw new TypeError(
          `Option \`fault.value\` must be JSON-serializable, but ${error instanceof Error ? error.message : String(error)}.`,
        );
      }
      return { type, value: value.value };
    default:
      rejectUnknownKeys("fault", value, ["type"]);
      return { type };
  }
}

function checkHttpFault(value: Record<string, unknown>): Fault {
  rejectUnknownKeys("fault", value, ["type", "status", "description"]);
  // Not 1xx: Node sends those as interim responses, and the client would wait on.
  const status = checkNumber("fault.status", value.status, { min: 200, max: 599, integer: true });
  const description = value.description;
  if (description !== undefined && typeof description !== "string")
    throw new TypeError(
      `Option \`fault.description\` must be a string, but got ${show(description)}.`,
    );
  return description === undefined
    ? { type: "http", status }
    : { type: "http", status, description };
}
