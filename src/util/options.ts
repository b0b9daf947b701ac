/**
 * Option validation shared by every `create*()` and `run()`: each check throws at
 * once with the option's full path, the expected form and the value given,
 * instead of letting a bad value hang or busy-loop the runner later.
 */

/** Renders a given value for an error message without dumping huge objects. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

function fail(kind: "type" | "range", path: string, expected: string, value: unknown): never {
  const message = `Option \`${path}\` must be ${expected}, but got ${show(value)}.`;
  throw kind === "type" ? new TypeError(message) : new RangeError(message);
}

/**
 * `undefined` or a plain object; returns an empty object for `undefined`.
 * With `known`, also throws on any other key (see {@link rejectUnknownKeys}).
 */
export function optionalObject<T extends object>(
  path: string,
  value: T | undefined,
  known?: readonly string[],
): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value))
    fail("type", path, "an object", value);
  if (known !== undefined) rejectUnknownKeys(path, value, known);
  return value;
}

/** Throws on keys outside `known`, suggesting the closest known key for typos. */
export function rejectUnknownKeys(path: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    const hint = near === undefined ? "" : ` Did you mean \`${near}\`?`;
    const where = path === "" ? key : `${path}.${key}`;
    throw new TypeError(
      `Unknown option \`${where}\`; expected one of ${known.map((k) => `\`${k}\``).join(", ")}.${hint}`,
    );
  }
}

/**
 * A number in `[min, max]`; `integer` excludes fractions (Infinity passes if
 * max allows). `undefined` gives `fallback` when the rule has one.
 */
export function checkNumber(
  path: string,
  value: unknown,
  { min, max = Number.POSITIVE_INFINITY, integer = false, fallback }: NumberRule,
): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const expected = describeRule({ min, max, integer });
  if (typeof value !== "number" || Number.isNaN(value)) fail("type", path, expected, value);
  if (value < min || value > max) fail("range", path, expected, value);
  if (integer && Number.isFinite(value) && !Number.isInteger(value))
    fail("range", path, expected, value);
  if (!Number.isFinite(value) && max !== Number.POSITIVE_INFINITY)
    fail("range", path, expected, value);
  return value;
}

interface NumberRule {
  min: number;
  max?: number;
  integer?: boolean;
  /** The value of an option left out; without it, `undefined` fails. */
  fallback?: number;
}

function describeRule({ min, max, integer }: Required<Omit<NumberRule, "fallback">>): string {
  const kind = integer ? "an integer" : "a number";
  if (max === Number.POSITIVE_INFINITY) return `${kind} >= ${min} (or Infinity)`;
  return `${kind} from ${min} to ${max}`;
}

/** A finite number >= 0, for durations in milliseconds. */
export function checkDuration(path: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    fail(
      typeof value === "number" && !Number.isNaN(value) ? "range" : "type",
      path,
      "a finite number of milliseconds >= 0",
      value,
    );
  }
  return value;
}

export function checkFunction<F>(path: string, value: F): F {
  if (typeof value !== "function") fail("type", path, "a function", value);
  return value;
}

/** A boolean; `undefined` gives `fallback` when one is given. */
export function checkBoolean(path: string, value: unknown, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "boolean") fail("type", path, "a boolean", value);
  return value;
}

/** One of `allowed`; `undefined` gives `fallback` when one is given. */
export function checkOneOf<T extends string>(
  path: string,
  value: unknown,
  allowed: readonly T[],
  fallback?: T,
): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "string" || !allowed.includes(value as T))
    fail("type", path, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, value);
  return value as T;
}

/** Nearest known key within edit distance 2, or `undefined`. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}
