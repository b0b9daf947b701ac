/**
 * Reading a request body with a size limit, from a Node stream or a Fetch
 * `Request`, stopping as soon as the limit is passed.
 */
import type { IncomingMessage } from "node:http";
import { BodyTooLargeError } from "./request.js";

/** A declared `Content-Length` over the limit fails before a byte is read. */
function checkDeclared(length: string | null | undefined, maxBytes: number): void {
  if (length !== undefined && length !== null && Number(length) > maxBytes)
    throw new BodyTooLargeError(maxBytes);
}

/**
 * Reads a Node request body of at most `maxBytes`.
 *
 * @example
 * ```ts
 * const bytes = await readNodeBody(req, 1_048_576);
 * ```
 */
export function readNodeBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  checkDeclared(req.headers["content-length"], maxBytes);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        // Reading no further: the answer closes the connection.
        req.pause();
        reject(new BodyTooLargeError(maxBytes));
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/**
 * Reads a Fetch `Request` body of at most `maxBytes`.
 *
 * @example
 * ```ts
 * const bytes = await readWebBody(request, 1_048_576);
 * ```
 */
export async function readWebBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  checkDeclared(request.headers.get("content-length"), maxBytes);
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
