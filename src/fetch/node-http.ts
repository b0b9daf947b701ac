import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import {
  type BotApiErrorParameters,
  errorCode,
  errorDescription,
  errorParameters,
} from "../util/bot-api-error.js";
import { logger, redact } from "../util/log.js";
import { type SignalLike, timerDelay } from "../util/timers.js";
import type { GetUpdatesParams, UpdatesTransport } from "./transport.js";

const log = logger("transport");

/** How much longer than the long-polling timeout a request may take before it is given up. */
const TIMEOUT_MARGIN_MS = 10_000;

/**
 * A failed Bot API answer (`ok: false`), with the fields grammY's `GrammyError`
 * has, so that the fetcher classifies it exactly like grammY's errors.
 */
export class BotApiError extends Error {
  override readonly name = "BotApiError";
  readonly ok = false;
  constructor(
    readonly method: string,
    readonly error_code: number,
    readonly description: string,
    readonly parameters: BotApiErrorParameters,
  ) {
    super(redact(`Call to '${method}' failed! (${error_code}: ${description})`));
  }
}

/** Where the requests of one transport go, taken apart from the getUpdates URL once. */
interface Target {
  secure: boolean;
  host: string;
  port: number | undefined;
  path: string;
  auth: string | undefined;
}

/** The answer of one request, read to its end. */
interface Answer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/** Settles a request's promise; the first call wins. */
type Finish = (error: Error | undefined, answer?: Answer) => void;

/**
 * The `"node-http"` transport: every getUpdates is a JSON POST to `url` over
 * one keep-alive connection, answered by the parsed `result`.
 */
export function nodeHttpTransport<Y>(url: URL): UpdatesTransport<Y> {
  const target = targetOf(url);
  log(`getUpdates is sent with node:${target.secure ? "https" : "http"} to ${url.host}`);
  /** Created on first use and dropped by `close()`; idle sockets never keep the process alive. */
  let agent: HttpAgent | undefined;
  return {
    async getUpdates(params: GetUpdatesParams, signal: SignalLike): Promise<Y[]> {
      if (signal.aborted) throw abortError();
      const json = JSON.stringify(params);
      const timeoutMs = Math.max(0, params.timeout) * 1000 + TIMEOUT_MARGIN_MS;
      agent ??= new (target.secure ? HttpsAgent : HttpAgent)({
        keepAlive: true,
        maxSockets: 2,
        maxFreeSockets: 1,
      });
      return resultOf<Y>(await post(target, agent, json, timeoutMs, signal));
    },
    close() {
      if (agent === undefined) return;
      agent.destroy();
      agent = undefined;
      log("closed the getUpdates connections");
    },
  };
}

function targetOf(url: URL): Target {
  return {
    secure: url.protocol === "https:",
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    auth:
      url.username === ""
        ? undefined
        : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
  };
}

/** Sends one POST and reads its answer; rejects on network errors, `signal` or after `timeoutMs`. */
function post(
  target: Target,
  agent: HttpAgent,
  json: string,
  timeoutMs: number,
  signal: SignalLike,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish: Finish = (error, answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (error === undefined) resolve(answer as Answer);
      else reject(error);
    };
    const onAbort = () => {
      finish(abortError());
      req.destroy();
    };
    const { secure, host, port, path, auth } = target;
    const req = (secure ? httpsRequest : httpRequest)({
      host,
      port,
      path,
      auth,
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(json) },
    });
    req.on("error", (error: NodeJS.ErrnoException) => finish(networkError(error)));
    req.on("response", (res: IncomingMessage) => readAnswer(res, finish));
    timer = setTimeout(() => {
      finish(new Error(`getUpdates timed out after ${Math.round(timeoutMs / 1000)} s`));
      req.destroy();
    }, timerDelay(timeoutMs));
    signal.addEventListener("abort", onAbort);
    req.end(json);
  });
}

/** Collects the body of `res` and hands the whole answer to `finish`. */
function readAnswer(res: IncomingMessage, finish: Finish): void {
  const chunks: Buffer[] = [];
  let length = 0;
  res.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
  });
  res.on("error", (error: NodeJS.ErrnoException) => finish(networkError(error)));
  res.on("end", () => {
    finish(undefined, {
      status: res.statusCode ?? 0,
      contentType: res.headers["content-type"],
      body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length),
    });
  });
  res.on("close", () => {
    if (!res.complete) finish(new Error("getUpdates failed: the connection closed mid-answer"));
  });
}

/**
 * The `result` of a Bot API answer, or the error it stands for: a JSON
 * `ok: false` answer becomes a {@link BotApiError} (its `error_code` falls back
 * to the HTTP status), anything else that is not `ok: true` a plain `Error`.
 */
function resultOf<Y>({ status, contentType, body }: Answer): Y[] {
  let data: unknown;
  try {
    data = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error(
      `getUpdates answered HTTP ${status} with a body that is not JSON (${redact(String(contentType ?? "no content-type"))}, ${body.length} bytes)`,
    );
  }
  const d = data as { ok?: unknown; result?: unknown } | null;
  if (d?.ok === true && status >= 200 && status < 300) return d.result as Y[];
  const code = errorCode(data) ?? (status >= 300 ? status : undefined);
  if (code === undefined)
    throw new Error(`getUpdates answered HTTP ${status} with JSON that is not a Bot API answer`);
  const description = errorDescription(data) ?? `HTTP ${status} without a description`;
  throw new BotApiError("getUpdates", code, description, errorParameters(data) ?? {});
}

function abortError(): Error {
  const error = new Error("getUpdates was aborted");
  error.name = "AbortError";
  return error;
}

/** Node's errors name the host, never the path; redacted all the same. */
function networkError(cause: NodeJS.ErrnoException): Error {
  const error = new Error(
    `getUpdates failed: network error (${redact(cause.message)})`,
  ) as Error & {
    code?: string;
  };
  error.code = cause.code;
  return error;
}
