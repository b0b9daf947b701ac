/**
 * Adapters from web frameworks to {@link IncomingWebhook}: each reads the
 * method, the secret header and the body (with the size limit) its own way,
 * and writes the answer back. No framework is imported: the shapes are typed
 * here, so the main entry loads none of them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readNodeBody, readWebBody } from "./body.js";
import { type IncomingWebhook, SECRET_HEADER, type WebhookAnswer } from "./request.js";

type Receive = (request: IncomingWebhook) => Promise<WebhookAnswer>;

/**
 * A request as express hands it: a Node request, with `body` if a body parser ran.
 *
 * @example
 * ```ts
 * app.post("/bot", express.json(), handle.callback("express")); // req.body is the update
 * ```
 */
export type ExpressLikeRequest = IncomingMessage & { body?: unknown };

/**
 * The parts of a fastify request the adapter reads.
 *
 * @example
 * ```ts
 * fastify.post("/bot", handle.callback("fastify"));
 * ```
 */
export interface FastifyLikeRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  raw: IncomingMessage;
}

/**
 * The parts of a fastify reply the adapter writes.
 *
 * @example
 * ```ts
 * const handler: (req: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<FastifyLikeReply> =
 *   handle.callback("fastify");
 * ```
 */
export interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  headers(values: Record<string, string>): FastifyLikeReply;
  send(body: string): FastifyLikeReply;
}

/**
 * The parts of a hono context the adapter reads.
 *
 * @example
 * ```ts
 * new Hono().post("/bot", handle.callback("hono"));
 * ```
 */
export interface HonoLikeContext {
  req: { raw: Request };
}

/**
 * The request handler each adapter name gives, see `handle.callback()`.
 *
 * @example
 * ```ts
 * const listener: WebhookAdapters["http"] = handle.callback("http");
 * ```
 */
export interface WebhookAdapters {
  /** `http.createServer(handle.callback("http"))`, also for `https`. */
  http: (req: IncomingMessage, res: ServerResponse) => void;
  /** `app.post("/bot", handle.callback("express"))`, with or without `express.json()`. */
  express: (req: ExpressLikeRequest, res: ServerResponse) => void;
  /** `app.post("/bot", handle.callback("fastify"))`. */
  fastify: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<FastifyLikeReply>;
  /** `app.post("/bot", handle.callback("hono"))`. */
  hono: (c: HonoLikeContext) => Promise<Response>;
  /** A Fetch API handler, `(request: Request) => Promise<Response>`: Bun, Deno, workers. */
  fetch: (request: Request) => Promise<Response>;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function respondNode(res: ServerResponse, answer: WebhookAnswer, closeAfter: boolean): void {
  if (res.headersSent || res.destroyed) return;
  // A body left unread (too large) must not be read as the next request.
  const headers = closeAfter ? { ...answer.headers, connection: "close" } : answer.headers;
  res.writeHead(answer.status, headers).end(answer.body);
}

function nodeHandler(receive: Receive, parsedBody: (req: ExpressLikeRequest) => unknown) {
  return (req: ExpressLikeRequest, res: ServerResponse): void => {
    void receive({
      method: req.method,
      secret: firstHeader(req.headers[SECRET_HEADER]),
      body: (max) => {
        const parsed = parsedBody(req);
        return parsed !== undefined ? Promise.resolve(parsed) : readNodeBody(req, max);
      },
    }).then((answer) => respondNode(res, answer, !req.complete));
  };
}

function fetchHandler(receive: Receive): (request: Request) => Promise<Response> {
  return async (request) => {
    const answer = await receive({
      method: request.method,
      secret: request.headers.get(SECRET_HEADER) ?? undefined,
      body: (max) => readWebBody(request, max),
    });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  };
}

/** Builds every adapter around one `receive`. */
export function adaptersFor(receive: Receive): WebhookAdapters {
  const fetch = fetchHandler(receive);
  return {
    http: nodeHandler(receive, () => undefined),
    // express leaves `body` undefined unless a body parser (json, raw, text) filled it.
    express: nodeHandler(receive, (req) => req.body),
    fastify: async (request, reply) => {
      const answer = await receive({
        method: request.method,
        secret: firstHeader(request.headers[SECRET_HEADER]),
        body: (max) =>
          request.body !== undefined
            ? Promise.resolve(request.body)
            : readNodeBody(request.raw, max),
      });
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    },
    hono: (c) => fetch(c.req.raw),
    fetch,
  };
}
