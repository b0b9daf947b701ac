/**
 * Turns the body (and query string) of a Bot API request into a parameter
 * object, the way the Bot API accepts them: JSON, URL-encoded forms or
 * multipart forms. Internal to the fake server.
 */

/** Thrown for a body the fake server cannot read; answered with 400. */
export class BadRequestError extends Error {}

/**
 * Parses a request's parameters. JSON (grammY's usual encoding) is parsed as is;
 * form values are strings on the wire, so numbers, booleans and JSON arrays or
 * objects in them are decoded back on a best-effort basis. Files in multipart
 * bodies are recorded as `{ filename, size }` instead of their content.
 */
export function parseParams(
  contentType: string | undefined,
  body: Buffer,
  query: string,
): Record<string, unknown> {
  const fromQuery = query === "" ? undefined : fromForm(new URLSearchParams(query));
  if (body.length === 0) return fromQuery ?? {};
  const type = contentType === undefined ? "" : contentType.toLowerCase();
  let fromBody: Record<string, unknown>;
  if (type.startsWith("multipart/form-data")) {
    fromBody = parseMultipart(body, contentType ?? "");
  } else if (type.startsWith("application/x-www-form-urlencoded")) {
    fromBody = fromForm(new URLSearchParams(body.toString("utf8")));
  } else {
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      throw new BadRequestError("Bad Request: can't parse JSON body");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new BadRequestError("Bad Request: the JSON body must be an object");
    fromBody = value as Record<string, unknown>;
  }
  if (fromQuery === undefined) return fromBody;
  for (const [key, value] of Object.entries(fromBody)) setParam(fromQuery, key, value);
  return fromQuery;
}

/** Sets a parameter; `__proto__` would replace the object's prototype instead, so it is left out. */
function setParam(params: Record<string, unknown>, key: string, value: unknown): void {
  if (key !== "__proto__") params[key] = value;
}

function fromForm(search: URLSearchParams): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [key, value] of search) setParam(params, key, decodeFormValue(value));
  return params;
}

/** `"42"` → 42, `"true"` → true, `'["message"]'` → ["message"], else the string. */
function decodeFormValue(value: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === "true") return true;
  if (value === "false") return false;
  const first = value.charAt(0);
  if (first === "[" || first === "{") {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

function parseMultipart(body: Buffer, contentType: string): Record<string, unknown> {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined)
    throw new BadRequestError("Bad Request: multipart body without boundary");
  const params: Record<string, unknown> = {};
  // latin1 maps bytes 1:1 to characters, so splitting cannot corrupt UTF-8 text.
  for (const part of body.toString("latin1").split(`--${boundary}`)) {
    const split = part.indexOf("\r\n\r\n");
    if (split === -1) continue;
    const head = part.slice(0, split);
    let content = part.slice(split + 4);
    if (content.endsWith("\r\n")) content = content.slice(0, -2);
    const name = /(?:^|[;\s])name="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    const file = /filename=(?:"([^"]*)"|([^;\r\n]*))/i.exec(head);
    const filename = file === null ? undefined : (file[1] ?? file[2]);
    setParam(
      params,
      name,
      filename === undefined
        ? decodeFormValue(Buffer.from(content, "latin1").toString("utf8"))
        : { filename, size: content.length },
    );
  }
  return params;
}
