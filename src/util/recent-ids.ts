/**
 * The bounded window of recent `update_id`s that makes a re-sent webhook
 * update count once; the file journal keeps one too, so the window outlives
 * a restart.
 */

/**
 * Remembers the last `size` ids added; older ones are forgotten in the order
 * they were added.
 *
 * @example
 * ```ts
 * const recent = new RecentIds(2);
 * recent.add(1); recent.add(2); recent.add(3);
 * recent.has(1); // false: pushed out
 * ```
 */
export class RecentIds {
  private readonly ids = new Set<number>();
  private readonly ring: number[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  has(id: number): boolean {
    return this.ids.has(id);
  }

  add(id: number): void {
    if (this.size === 0 || this.ids.has(id)) return;
    if (this.ring.length < this.size) this.ring.push(id);
    else {
      this.ids.delete(this.ring[this.next]);
      this.ring[this.next] = id;
      this.next = (this.next + 1) % this.size;
    }
    this.ids.add(id);
  }

  /** The ids remembered, oldest first. */
  list(): number[] {
    if (this.ring.length < this.size) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
