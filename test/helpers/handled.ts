import { expect } from "vitest";

/**
 * What the replicas of one test handled, per chat in handling order, with
 * whether each handling was a replay (`isReplayed`), and the checks a
 * cluster promises however loaded the machine is.
 */
export class Handled {
  private readonly byChat = new Map<number, { id: number; replayed: boolean }[]>();
  private readonly ids = new Set<number>();

  add(chat: number, id: number, replayed: boolean): void {
    const list = this.byChat.get(chat) ?? [];
    list.push({ id, replayed });
    this.byChat.set(chat, list);
    this.ids.add(id);
  }

  /** Handlings marked as replays. */
  replays(): number {
    let n = 0;
    for (const list of this.byChat.values()) for (const { replayed } of list) if (replayed) n++;
    return n;
  }

  /** Distinct update_ids handled so far. */
  distinct(): number {
    return this.ids.size;
  }

  /**
   * Every one of `total` updates handled; an update handled again only as a
   * replay (a lease that ran out under load moved it), never twice as new;
   * per chat, the first handlings in update_id order.
   */
  expectComplete(total: number): void {
    expect(this.ids.size).toBe(total);
    const fresh = new Set<number>();
    for (const list of this.byChat.values()) {
      const firsts: number[] = [];
      for (const { id, replayed } of list) {
        if (!replayed) {
          expect(fresh.has(id), `update ${id} handled twice without isReplayed`).toBe(false);
          fresh.add(id);
        }
        if (!firsts.includes(id)) firsts.push(id);
      }
      expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    }
  }
}
