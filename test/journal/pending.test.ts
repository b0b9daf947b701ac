import { describe, expect, it } from "vitest";
import { PendingUpdates } from "../../src/journal/pending.js";

const u = (id: number, text = "a") => ({ update_id: id, text });
const idsOf = (updates: { update_id: number }[]) => updates.map((update) => update.update_id);

/** Adds a batch the way the journal does: as one text when its ids follow. */
function append(store: PendingUpdates, updates: { update_id: number }[]): "text" | "json" {
  const ids = idsOf(updates);
  if (store.follows(ids)) {
    store.addText(ids, JSON.stringify(updates));
    return "text";
  }
  store.add(
    ids,
    updates.map((update) => JSON.stringify(update)),
  );
  return "json";
}

describe("PendingUpdates", () => {
  it("keeps ascending batches as text and collects them unchanged", () => {
    const store = new PendingUpdates();
    expect(append(store, [u(1), u(2), u(3)])).toBe("text");
    expect(append(store, [u(4), u(5)])).toBe("text");
    expect(store.count).toBe(5);
    expect(store.bytes).toBe(
      JSON.stringify([u(1), u(2), u(3)]).length + JSON.stringify([u(4), u(5)]).length,
    );
    expect(store.collect()).toEqual({
      ids: [1, 2, 3, 4, 5],
      text: JSON.stringify([u(1), u(2), u(3), u(4), u(5)]),
    });
  });

  it("picks the pending updates out of a partly done batch", () => {
    const store = new PendingUpdates();
    append(store, [u(1), u(2), u(3)]);
    append(store, [u(4), u(5)]);
    expect(store.delete(2)).toBe(true);
    expect(store.delete(2)).toBe(false);
    expect(store.delete(99)).toBe(false);
    expect(store.collect()).toEqual({
      ids: [1, 3, 4, 5],
      text: JSON.stringify([u(1), u(3), u(4), u(5)]),
    });
    // After the split, the bytes are exact again.
    expect(store.bytes).toBe(JSON.stringify(u(1)).length * 2 + JSON.stringify([u(4), u(5)]).length);
  });

  it("counts bytes down to zero as everything is done", () => {
    const store = new PendingUpdates();
    append(store, [u(1), u(2), u(3)]);
    append(store, [u(7), u(8, "a longer text")]);
    for (const id of [8, 1, 3, 7, 2]) expect(store.delete(id)).toBe(true);
    expect(store.count).toBe(0);
    expect(store.bytes).toBe(0);
    expect(store.collect()).toEqual({ ids: [], text: "[]" });
    // Empty again: ids that go back are fine once more.
    expect(append(store, [u(1)])).toBe("text");
  });

  it("treats ids that do not follow like Map.set: the old place, the newest JSON", () => {
    const store = new PendingUpdates();
    append(store, [u(1), u(2), u(3)]);
    store.delete(1);
    expect(append(store, [u(2, "b"), u(1, "b"), u(9), u(9, "c")])).toBe("json");
    expect(store.collect()).toEqual({
      ids: [2, 3, 1, 9],
      text: JSON.stringify([u(2, "b"), u(3), u(1, "b"), u(9, "c")]),
    });
    expect(store.count).toBe(4);
    for (const id of [3, 9, 2, 1]) expect(store.delete(id)).toBe(true);
    expect(store.bytes).toBe(0);
  });

  it("starts over from one batch on reset", () => {
    const store = new PendingUpdates();
    append(store, [u(5), u(6)]);
    store.reset([3, 1], JSON.stringify([u(3), u(1)]));
    expect(store.count).toBe(2);
    expect(store.follows([4])).toBe(false);
    expect(store.delete(1)).toBe(true);
    expect(store.collect()).toEqual({ ids: [3], text: JSON.stringify([u(3)]) });
  });
});
