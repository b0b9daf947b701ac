/**
 * The cluster's data in Redis: key names, the Lua scripts that check leases
 * and fencing tokens atomically, and reading replies. All keys of one bot
 * share a hash tag, so the scripts also work on a Redis Cluster.
 *
 * Keys under `grammy-runner:{<name>}:`
 * - `leader`: the leader lease, `<token>:<replica>` with a PX expiry
 * - `fence`: the counter the tokens come from (INCR at every takeover)
 * - `offset`, `hw`: the next getUpdates offset and the highest update_id stored
 * - `bot`: the bot id that uses this name
 * - `members`: sorted set of live replicas, scored by lease expiry (Redis time)
 * - `part:<i>`: the lease of partition i, the replica's id with a PX expiry
 * - `s:<i>`: stream i, entries `{ u: <update JSON> }`, consumer group `g`
 */
import { createHash } from "node:crypto";

/** The node-redis calls the cluster makes; a `createClient()` client fits. */
export interface RedisLike {
  sendCommand(args: readonly string[]): Promise<unknown>;
}

export const GROUP = "g";

/** The key names of one bot's cluster. */
export class Keys {
  readonly leader: string;
  readonly fence: string;
  readonly offset: string;
  readonly hw: string;
  readonly bot: string;
  readonly members: string;
  readonly parts: string[];
  readonly streams: string[];

  constructor(name: string, partitions: number) {
    const p = `grammy-runner:{${name}}:`;
    this.leader = `${p}leader`;
    this.fence = `${p}fence`;
    this.offset = `${p}offset`;
    this.hw = `${p}hw`;
    this.bot = `${p}bot`;
    this.members = `${p}members`;
    this.parts = Array.from({ length: partitions }, (_, i) => `${p}part:${i}`);
    this.streams = Array.from({ length: partitions }, (_, i) => `${p}s:${i}`);
  }

  /** Every key, for tests and cleanup. */
  all(): string[] {
    const { leader, fence, offset, hw, bot, members } = this;
    return [leader, fence, offset, hw, bot, members, ...this.parts, ...this.streams];
  }
}

/** Takes the leader lease if free: `[token, offset]`, or `[0, pttl]` while someone holds it. */
const ACQUIRE_LEADER = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return {token, redis.call('GET', KEYS[3]) or '-1'}`;

/** Extends a lease only if it still holds this value: 1, else 0. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

/** Deletes a lease only if it still holds this value. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The fenced write of a batch: refused (-1) unless the leader lease holds the
 * writer's token; skips update_ids at or below the highest stored one (a new
 * leader fetching a batch again); moves the offset forward. Returns
 * `{written, total entries in all streams}`. Both marks expire after 6 days
 * without a batch: after a week without updates, Telegram may number the
 * next one at random, possibly below them.
 * KEYS: leader, hw, offset, streams...; ARGV: lease value, next offset, then
 * (partition, update_id, JSON) triples.
 */
const WRITE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1, 0} end
local hw = tonumber(redis.call('GET', KEYS[2]) or '-1')
local n = 0
for i = 3, #ARGV, 3 do
  local id = tonumber(ARGV[i + 1])
  if id > hw then
    redis.call('XADD', KEYS[4 + tonumber(ARGV[i])], '*', 'u', ARGV[i + 2])
    hw = id
    n = n + 1
  end
end
redis.call('SET', KEYS[2], hw, 'EX', 518400)
if tonumber(ARGV[2]) > tonumber(redis.call('GET', KEYS[3]) or '0') then redis.call('SET', KEYS[3], ARGV[2]) end
redis.call('EXPIRE', KEYS[3], 518400)
local total = 0
for k = 4, #KEYS do total = total + redis.call('XLEN', KEYS[k]) end
return {n, total}`;

/**
 * A replica's heartbeat: refreshes its membership (expiring dead members by
 * Redis' clock), renews the partition leases it still holds, and returns the
 * live members and the partitions kept.
 * KEYS: members, part keys...; ARGV: replica, lease ms, held partitions...
 */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 4)
local kept = {}
for i = 3, #ARGV do
  local key = KEYS[2 + tonumber(ARGV[i])]
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    kept[#kept + 1] = ARGV[i]
  end
end
return {redis.call('ZRANGE', KEYS[1], 0, -1), kept}`;

/**
 * Acknowledges and deletes handled entries of any number of streams in one
 * call, instead of an XACK and an XDEL per stream.
 * KEYS: streams...; ARGV: group, then per stream its entry count and ids.
 */
const ACK = `
local at = 2
for k = 1, #KEYS do
  local n = tonumber(ARGV[at])
  local ids = {unpack(ARGV, at + 1, at + n)}
  redis.call('XACK', KEYS[k], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[k], unpack(ids))
  at = at + n + 1
end
return at`;

export const SCRIPTS = { ACQUIRE_LEADER, RENEW, RELEASE, WRITE, HEARTBEAT, ACK } as const;
const shas = new Map<string, string>(
  Object.values(SCRIPTS).map((s) => [s, createHash("sha1").update(s).digest("hex")]),
);

/** The SHA-1 of a script, computed once (also for scripts defined outside {@link SCRIPTS}). */
function shaOf(script: string): string {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash("sha1").update(script).digest("hex");
    shas.set(script, sha);
  }
  return sha;
}

/**
 * Runs a script by its hash, loading it when Redis does not know it (first
 * use, or after a restart wiped the script cache).
 */
export async function evalScript(
  redis: RedisLike,
  script: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args.map(String)];
  try {
    return await redis.sendCommand(["EVALSHA", shaOf(script), ...tail]);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
    return redis.sendCommand(["EVAL", script, ...tail]);
  }
}

/** A stream entry as read from a reply: its id and the update it holds. */
export interface Entry {
  id: string;
  json: string;
}

/**
 * The `[stream, entries]` pairs of an XREADGROUP reply, which node-redis
 * gives as an object keyed by stream (or as RESP pairs, or a Map).
 */
export function streamsOf(reply: unknown): [string, unknown][] {
  if (reply === null || typeof reply !== "object") return [];
  if (reply instanceof Map) return [...reply.entries()] as [string, unknown][];
  if (Array.isArray(reply))
    return reply.filter(
      (pair): pair is [string, unknown] => Array.isArray(pair) && typeof pair[0] === "string",
    );
  return Object.entries(reply);
}

/** The entries of one stream's part of an XREADGROUP or XAUTOCLAIM reply. */
export function entriesOf(list: unknown): Entry[] {
  const out: Entry[] = [];
  if (!Array.isArray(list)) return out;
  for (const item of list) {
    if (!Array.isArray(item) || typeof item[0] !== "string" || !Array.isArray(item[1])) continue;
    const fields = item[1] as unknown[];
    const at = fields.indexOf("u");
    if (at >= 0 && typeof fields[at + 1] === "string")
      out.push({ id: item[0], json: fields[at + 1] as string });
  }
  return out;
}

/**
 * Errors that retrying will not heal: wrong credentials or permissions, a
 * Redis without streams or scripts, a key that holds something else.
 */
export function isFatalRedisError(error: unknown): boolean {
  const message = String((error as Error)?.message ?? error);
  // "Unknown Redis command called from script": a command a script needs is missing.
  return /WRONGPASS|NOAUTH|NOPERM|WRONGTYPE|unknown (redis )?command|ERR_INVALID_URL|Invalid URL/i.test(
    message,
  );
}
