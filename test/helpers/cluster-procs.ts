import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ClusterStats } from "../../src/cluster/cluster.js";
import type { RunnerStats } from "../../src/index.js";

const build = (name: string) =>
  fileURLToPath(new URL(`../fixtures/.build/${name}`, import.meta.url));

/** The fake Bot API server in a child process, driven over IPC. */
export class ServerProcess {
  private next = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly token: string,
  ) {
    child.on("message", (m: { id?: number; result?: unknown }) => {
      if (m.id !== undefined) this.waiting.get(m.id)?.(m.result);
    });
  }

  static async start(): Promise<ServerProcess> {
    const child = fork(build("cluster-server.mjs"), {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const { url, token } = await new Promise<{ url: string; token: string }>((resolve) =>
      child.once("message", resolve as (m: unknown) => void),
    );
    return new ServerProcess(child, url, token);
  }

  request<T>(cmd: string, extra: object = {}): Promise<T> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (value: unknown) => void);
      this.child.send({ id, cmd, ...extra });
    });
  }

  async close(): Promise<void> {
    await this.request("close");
    this.child.kill("SIGKILL");
  }
}

export interface ReplicaState {
  child: ChildProcess;
  stats: (RunnerStats & { cluster?: ClusterStats }) | undefined;
  exit: Promise<number | null>;
  output: string[];
}

/** Starts a replica process of the clustered test bot. */
export function startReplica(env: Record<string, string>): ReplicaState {
  const child = fork(build("cluster-bot.cjs"), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const state: ReplicaState = {
    child,
    stats: undefined,
    output: [],
    exit: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  };
  child.stdout?.on("data", (d) => state.output.push(String(d)));
  child.stderr?.on("data", (d) => state.output.push(String(d)));
  child.on("message", (m: { stats?: ReplicaState["stats"] }) => {
    if (m.stats !== undefined) state.stats = m.stats;
  });
  return state;
}

/** Stops a replica gracefully and waits for it to exit. */
export async function stopReplica(replica: ReplicaState): Promise<number | null> {
  // A replica still loading its modules has no message listener yet: "stop" would be lost.
  const ready = Date.now() + 30_000;
  while (replica.stats === undefined && replica.child.exitCode === null && Date.now() < ready)
    await new Promise((resolve) => setTimeout(resolve, 50));
  if (replica.child.exitCode === null && replica.child.connected) replica.child.send("stop");
  const timer = setTimeout(() => {
    replica.child.kill("SIGKILL");
    console.error(
      `a replica did not stop within 30 s; its output:\n${replica.output.join("").slice(-3000)}`,
    );
  }, 30_000);
  const code = await replica.exit;
  clearTimeout(timer);
  return code;
}
