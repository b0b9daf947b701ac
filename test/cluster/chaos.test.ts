import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import {
  type ReplicaState,
  ServerProcess,
  startReplica,
  stopReplica,
} from "../helpers/cluster-procs.js";
import { dropKeys, uniqueName, useRedis } from "../helpers/redis.js";

const redis = useRedis();

const TOTAL = 5_000;
const CHATS = 200;
/** Short for a quick test, but long enough for a replica starved of CPU on a busy 2-core runner. */
const LEASE_MS = 5_000;

/** Waits until `predicate` holds, checking every 50 ms, or fails after `ms`. */
async function until(
  predicate: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

it("3 replicas, SIGKILLs of the leader and others: nothing lost, per-chat order, no 409, offset confirmed", async () => {
  const name = uniqueName("chaos");
  const server = await ServerProcess.start();
  const env = {
    CLUSTER_API: server.url,
    CLUSTER_TOKEN: server.token,
    REDIS_URL: redis.url,
    CLUSTER_NAME: name,
    CLUSTER_LEASE_MS: String(LEASE_MS),
  };
  const replicas: ReplicaState[] = [startReplica(env), startReplica(env), startReplica(env)];
  const killed: ReplicaState[] = [];
  try {
    let lastId = 0;
    const pushing = (async () => {
      // 5,000 updates over about 12 s, so the kills land while updates flow.
      for (let i = 0; i < 50; i++) {
        lastId = await server.request<number>("push", { count: TOTAL / 50, chats: CHATS });
        await sleep(240);
      }
    })();
    let kills = 0;
    let leaderKills = 0;
    for (let k = 0; k < 6; k++) {
      await sleep(1_200 + Math.random() * 600);
      const leaderOf = () => replicas.findIndex((r) => r.stats?.cluster?.role === "leader");
      // The leader's kills wait for the new leader to be known.
      if (k % 2 === 0) await until(() => leaderOf() >= 0, 10_000, "a leader").catch(() => {});
      const leaderIndex = leaderOf();
      // Every other kill is the leader's.
      const index = k % 2 === 0 && leaderIndex >= 0 ? leaderIndex : Math.floor(Math.random() * 3);
      if (index === leaderIndex) leaderKills++;
      replicas[index].child.kill("SIGKILL");
      replicas[index].stats = undefined;
      killed.push(replicas[index]);
      kills++;
      await sleep(300);
      replicas[index] = startReplica(env);
    }
    await pushing;
    const report = () =>
      server.request<{
        stats: { confirmedOffset: number; maxConcurrentPolls: number };
        replies: [number, string][];
      }>("report");
    await until(
      async () => {
        const ids = new Set((await report()).replies.map(([, text]) => Number.parseInt(text, 10)));
        return ids.size >= TOTAL;
      },
      40_000,
      "every update to be handled",
    );
    const codes = await Promise.all(replicas.map(stopReplica));
    const { stats, replies } = await report();
    const firstSeen = new Map<number, number[]>();
    const handled = new Set<number>();
    let duplicates = 0;
    for (const [chat, text] of replies) {
      const id = Number.parseInt(text, 10);
      if (handled.has(id)) {
        duplicates++;
        // A second handling only ever comes from a replay after a kill.
        expect(text).toBe(`${id} r`);
        continue;
      }
      handled.add(id);
      const list = firstSeen.get(chat) ?? [];
      list.push(id);
      firstSeen.set(chat, list);
    }
    expect(handled.size).toBe(TOTAL);
    for (const list of firstSeen.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(leaderKills).toBeGreaterThanOrEqual(2);
    expect(stats.maxConcurrentPolls).toBe(1);
    expect(codes).toEqual([0, 0, 0]);
    for (const r of killed) expect(r.output.join("")).not.toMatch(/runner failed/);
    expect(stats.confirmedOffset).toBe(lastId + 1);
    console.log(`chaos: ${kills} kills (${leaderKills} of the leader), ${duplicates} duplicates`);
  } finally {
    for (const r of [...replicas, ...killed]) r.child.kill("SIGKILL");
    await server.close();
    await dropKeys(redis.admin, name);
  }
}, 120_000);
