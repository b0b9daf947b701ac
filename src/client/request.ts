import type { Dispatcher } from "undici";
import { abortError, networkError } from "./errors.js";
import { BufferedResponse } from "./response.js";

/** The part of an AbortSignal the client uses: grammY's (abort-controller's) or a native one. */
export interface SignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * One call in flight, as undici's dispatch handler. It collects the body
 * chunks as they come instead of exposing them as a stream (grammY reads every
 * answer whole), and settles the call's promise once the body has ended.
 */
export class PendingCall {
  private status = 0;
  private statusText = "";
  private rawHeaders: Buffer[] = [];
  private readonly chunks: Buffer[] = [];
  private abortRequest: ((reason: Error) => void) | undefined;
  private aborted = false;
  private settled = false;

  constructor(
    private readonly url: string,
    private readonly signal: SignalLike | undefined,
    private readonly resolve: (response: BufferedResponse) => void,
    private readonly reject: (error: Error) => void,
  ) {
    signal?.addEventListener("abort", this.onAbort);
  }

  /** The signal fired: fail the call now and tell undici to drop the request. */
  private readonly onAbort = (): void => {
    if (this.settled) return;
    this.aborted = true;
    const error = abortError(this.url);
    this.finish(error);
    this.abortRequest?.(error);
  };

  private finish(error: Error | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener("abort", this.onAbort);
    if (error !== undefined) this.reject(error);
    else
      this.resolve(
        new BufferedResponse(this.status, this.statusText, this.rawHeaders, this.chunks, this.url),
      );
  }

  // undici's handler methods, called by the pool.

  onConnect(abort: (reason: Error) => void): void {
    this.abortRequest = abort;
    // Aborted while queued for a connection: undici drops it before sending.
    if (this.aborted) abort(abortError(this.url));
  }

  onHeaders(
    status: number,
    rawHeaders: Buffer[],
    _resume: () => void,
    statusText: string,
  ): boolean {
    this.status = status;
    this.statusText = statusText;
    this.rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.finish(undefined);
  }

  onError(error: Error): void {
    this.finish(this.aborted ? abortError(this.url) : networkError(this.url, error));
  }
}

/** Sends one request through `dispatcher` and resolves with its whole answer. */
export function send(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  url: string,
  signal: SignalLike | undefined,
): Promise<BufferedResponse> {
  return new Promise<BufferedResponse>((resolve, reject) => {
    const call = new PendingCall(url, signal, resolve, reject);
    dispatcher.dispatch(options, call as unknown as Dispatcher.DispatchHandler);
  });
}
