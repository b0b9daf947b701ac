import { FetchError, showUrl } from "./errors.js";

/**
 * The answer {@link createFetch}'s function resolves with once the whole body
 * has arrived: the part of the Fetch API `Response` that grammY and most
 * callers read. grammY's client calls only `json()`.
 *
 * @example
 * ```ts
 * const res = await fetch(`${apiRoot}/bot${token}/getMe`, { method: "POST" });
 * if (res.ok) console.log(await res.json());
 * ```
 */
export interface FetchResponse {
  readonly status: number;
  readonly statusText: string;
  /** Whether `status` is 200..299. */
  readonly ok: boolean;
  /** The response headers; names are matched case-insensitively. */
  readonly headers: { get(name: string): string | null };
  /** The body parsed as JSON; rejects with a {@link FetchError} if it is not JSON. */
  json(): Promise<unknown>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A {@link FetchResponse} over the chunks undici handed over, decoded only when asked. */
export class BufferedResponse implements FetchResponse {
  constructor(
    readonly status: number,
    readonly statusText: string,
    /** undici's raw headers: name, value, name, value, ... */
    private readonly rawHeaders: Buffer[],
    private readonly chunks: Buffer[],
    private readonly url: string,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get headers(): { get(name: string): string | null } {
    const raw = this.rawHeaders;
    return {
      get(name: string): string | null {
        const wanted = name.toLowerCase();
        const values: string[] = [];
        for (let i = 0; i + 1 < raw.length; i += 2) {
          if (raw[i].toString("latin1").toLowerCase() === wanted)
            values.push(raw[i + 1].toString("latin1"));
        }
        return values.length === 0 ? null : values.join(", ");
      },
    };
  }

  private body(): Buffer {
    const { chunks } = this;
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }

  json(): Promise<unknown> {
    const text = this.body().toString("utf8");
    try {
      return Promise.resolve(JSON.parse(text));
    } catch (error) {
      return Promise.reject(this.notJson(text, error));
    }
  }

  text(): Promise<string> {
    return Promise.resolve(this.body().toString("utf8"));
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    const body = this.body();
    return Promise.resolve(
      body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
    );
  }

  /**
   * An answer that is not JSON (a proxy's 502 page, a truncated body). It
   * carries `status` and `statusText`, which grammY adds to its `HttpError`
   * message, e.g. "Network request for 'sendMessage' failed! (502: Bad Gateway)".
   */
  private notJson(text: string, cause: unknown): FetchError {
    const type = this.headers.get("content-type") ?? "no content-type";
    const reason = cause instanceof Error ? cause.message : String(cause);
    const error = new FetchError(
      `invalid JSON in the answer from ${showUrl(this.url)} (HTTP ${this.status} ${this.statusText}, ${type}, ${Buffer.byteLength(text)} bytes): ${reason}`,
      "invalid-json",
      undefined,
      cause,
    );
    return Object.assign(error, { status: this.status, statusText: this.statusText });
  }
}
