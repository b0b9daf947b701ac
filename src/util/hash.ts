/**
 * FNV-1a over the UTF-16 code units of `text`: a cheap, stable spread of keys
 * over workers or partitions, the same in every process.
 */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
