/** The updates of one append, as far as they are not done yet. */
interface Batch {
  /** The update ids, in append order. */
  ids: number[];
  /** 1 where the update is done. */
  done: Uint8Array;
  /** How many of them are not done yet. */
  live: number;
  /**
   * The batch as the JSON array written to the log, or `undefined` once it
   * was split into {@link json}.
   */
  text: string | undefined;
  /** Each update's JSON (`""` once done); made from `text` only when needed. */
  json: string[] | undefined;
  /** JSON length of its pending updates (pro rata while it is one text). */
  bytes: number;
}

/**
 * The pending updates of a journal (appended, not done yet), in append
 * order, with the JSON they were written as (compaction writes it again).
 *
 * Kept per batch rather than per update: appending and marking done allocate
 * nothing per update that outlives the batch, and nothing here holds the update
 * objects (a Map with an entry per update kept every in-flight update
 * reachable from old space, so that every garbage collection traced them).
 * A batch whose ids follow the ones held, as Telegram's do, is kept as the
 * single JSON text of the whole batch: one `JSON.stringify` of the array
 * costs less than one per update, and only compaction of a partly done
 * batch needs the updates one by one. Finding an id is then a binary search
 * over the few oldest batches.
 *
 * Other ids (duplicates, a sequence that starts over) get the semantics of a
 * Map: an id already pending keeps its place and takes the newest JSON, and
 * finding one is a linear search.
 */
export class PendingUpdates {
  /** Batches with a pending update, oldest first. */
  private batches: Batch[] = [];
  /** Whether ids strictly ascend through `batches`, done ones included. */
  private ascending = true;
  /** The batch index of the last id {@link find} found. */
  private found = 0;
  /** Pending updates. */
  count = 0;
  /** Length of their JSON, to tell how much of the log is still live. */
  bytes = 0;

  /** Replaces everything by one batch: `text` is the JSON array of the updates `ids`. */
  reset(ids: number[], text: string): void {
    this.batches = [];
    this.ascending = true;
    this.count = 0;
    this.bytes = 0;
    if (ids.length === 0) return;
    for (let i = 1; i < ids.length && this.ascending; i++) this.ascending = ids[i] > ids[i - 1];
    this.push(ids, text, undefined, text.length);
  }

  /** Whether `ids` ascend after every id held, so that none of them is pending already. */
  follows(ids: readonly number[]): boolean {
    if (!this.ascending) return false;
    const last = this.batches[this.batches.length - 1];
    let previous = last === undefined ? Number.NEGATIVE_INFINITY : last.ids[last.ids.length - 1];
    for (const id of ids) {
      if (!(id > previous)) return false;
      previous = id;
    }
    return true;
  }

  /** Adds a batch whose ids {@link follows}, as the JSON array text of its updates. */
  addText(ids: number[], text: string): void {
    if (ids.length > 0) this.push(ids, text, undefined, text.length);
  }

  /** Adds a batch whose ids do not {@link follows}, one JSON text per update, each like a `Map.set`. */
  add(ids: number[], json: string[]): void {
    if (ids.length === 0) return;
    this.ascending = false;
    const newIds: number[] = [];
    const newJson: string[] = [];
    let bytes = 0;
    const positions = new Map<number, number>();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const text = json[i];
      const earlier = positions.get(id);
      if (earlier !== undefined) {
        bytes += text.length - newJson[earlier].length;
        newJson[earlier] = text;
        continue;
      }
      const position = this.find(id);
      if (position !== -1) {
        const batch = this.batches[this.found];
        const old = this.split(batch);
        batch.bytes += text.length - old[position].length;
        this.bytes += text.length - old[position].length;
        old[position] = text;
        continue;
      }
      positions.set(id, newIds.length);
      newIds.push(id);
      newJson.push(text);
      bytes += text.length;
    }
    if (newIds.length > 0) this.push(newIds, undefined, newJson, bytes);
  }

  /** Marks a pending id done; `false` if it is not one. */
  delete(id: number): boolean {
    const position = this.find(id);
    if (position === -1) return false;
    const index = this.found;
    const batch = this.batches[index];
    batch.done[position] = 1;
    let share: number;
    if (batch.json === undefined) {
      share = (batch.text as string).length / batch.ids.length;
    } else {
      share = batch.json[position].length;
      batch.json[position] = "";
    }
    batch.bytes -= share;
    this.bytes -= share;
    this.count--;
    if (--batch.live === 0) {
      // What pro rata shares left over.
      this.bytes -= batch.bytes;
      if (index === 0) this.batches.shift();
      else this.batches.splice(index, 1);
      if (this.batches.length === 0) {
        this.ascending = true;
        this.bytes = 0;
      }
    }
    return true;
  }

  /** Ids and the JSON array text of the pending updates, in order. */
  collect(): { ids: number[]; text: string } {
    const ids: number[] = [];
    const parts: string[] = [];
    for (const batch of this.batches) {
      if (batch.text !== undefined && batch.live === batch.ids.length) {
        for (const id of batch.ids) ids.push(id);
        parts.push(batch.text.slice(1, -1));
        continue;
      }
      const json = this.split(batch);
      for (let i = 0; i < batch.ids.length; i++) {
        if (batch.done[i] === 1) continue;
        ids.push(batch.ids[i]);
        parts.push(json[i]);
      }
    }
    return { ids, text: `[${parts.join(",")}]` };
  }

  private push(ids: number[], text: string | undefined, json: string[] | undefined, bytes: number) {
    const live = ids.length;
    this.batches.push({ ids, done: new Uint8Array(live), live, text, json, bytes });
    this.count += live;
    this.bytes += bytes;
  }

  /** The batch's updates one by one, parsing its text the first time. */
  private split(batch: Batch): string[] {
    if (batch.json !== undefined) return batch.json;
    const values = JSON.parse(batch.text as string) as unknown[];
    const json = values.map((value, i) => (batch.done[i] === 1 ? "" : JSON.stringify(value)));
    let bytes = 0;
    for (const text of json) bytes += text.length;
    this.bytes += bytes - batch.bytes;
    batch.bytes = bytes;
    batch.json = json;
    batch.text = undefined;
    return json;
  }

  /** The position of a pending id in the batch `found`, or -1. */
  private find(id: number): number {
    const batches = this.batches;
    if (!this.ascending) {
      for (let index = 0; index < batches.length; index++) {
        const { ids, done } = batches[index];
        for (let position = 0; position < ids.length; position++) {
          if (ids[position] !== id || done[position] === 1) continue;
          this.found = index;
          return position;
        }
      }
      return -1;
    }
    // The first batch whose last id is not below `id`: nearly always the first.
    let low = 0;
    let high = batches.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const ids = batches[middle].ids;
      if (ids[ids.length - 1] < id) low = middle + 1;
      else high = middle;
    }
    if (low === batches.length) return -1;
    const { ids, done } = batches[low];
    let first = 0;
    let last = ids.length - 1;
    while (first <= last) {
      const middle = (first + last) >>> 1;
      const value = ids[middle];
      if (value < id) first = middle + 1;
      else if (value > id) last = middle - 1;
      else {
        this.found = low;
        return done[middle] === 1 ? -1 : middle;
      }
    }
    return -1;
  }
}
