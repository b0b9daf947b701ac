/**
 * One Bot API request the fake server is answering, and the JSON answers it
 * can get. Internal to the fake server.
 */
import type { ServerResponse } from "node:http";

/** What the server learns from an exchange as it ends. */
export interface ExchangeHooks {
  /** The request is answered or abandoned: forget it. */
  finished(exchange: Exchange): void;
  /** An answer was written: the server's state may have changed for waiters. */
  answered(): void;
}

/** A request being handled, from its body's end to its answer. */
export class Exchange {
  params: Record<string, unknown> = {};
  /** Answered, or abandoned by the client or by close(): nothing more may be written. */
  done = false;
  /** A delayed answer or a held long poll's timeout. */
  timer: NodeJS.Timeout | undefined;
  /** For getUpdates: how many updates it may take. */
  limit = 100;
  /** For getUpdates: waiting for updates to arrive. */
  held = false;

  constructor(
    readonly method: string,
    readonly res: ServerResponse,
    private readonly hooks: ExchangeHooks,
  ) {}

  ok(result: unknown): void {
    this.send(200, JSON.stringify({ ok: true, result }));
  }

  sendError(status: number, description: string): void {
    this.send(status, errorBody(status, description));
  }

  send(status: number, body: string, contentType = "application/json"): void {
    if (this.done) return;
    this.finish();
    if (this.res.destroyed) return;
    respond(this.res, status, body, contentType);
    this.hooks.answered();
  }

  /** Ends the connection without an answer. */
  drop(): void {
    this.finish();
    this.res.socket?.destroy();
  }

  /** Marks the request as answered (or abandoned) and releases what it holds. */
  finish(): void {
    this.done = true;
    this.held = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.hooks.finished(this);
  }
}

/** The Bot API's error answer, `{ ok: false, error_code, description }`. */
export function errorBody(status: number, description: string): string {
  return JSON.stringify({ ok: false, error_code: status, description });
}

/** Answers a request that never became an exchange (a wrong path or token). */
export function respondError(res: ServerResponse, status: number, description: string): void {
  respond(res, status, errorBody(status, description), "application/json");
}

function respond(res: ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}
