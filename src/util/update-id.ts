/**
 * Whether `value` can be an `update_id`: an integer that the `offset`
 * arithmetic (`update_id + 1`) keeps exact.
 */
export function isUpdateId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}
