/**
 * The fetcher's counters, which the runner shows through `handle.stats()`. A
 * module of their own, so that the stats need not load the fetcher.
 */
export interface FetchCounters {
  getUpdatesCalls: number;
  fetched: number;
  retries: number;
  invalid: number;
  lastError: string | undefined;
}

/** Counters of a fetcher that has not fetched yet. */
export function newFetchCounters(): FetchCounters {
  return { getUpdatesCalls: 0, fetched: 0, retries: 0, invalid: 0, lastError: undefined };
}
