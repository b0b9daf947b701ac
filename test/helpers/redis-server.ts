/**
 * A private redis-server on a free port, for the tests and the cluster
 * benchmarks alike (no test framework here, so bench/ can import it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, Socket } from "node:net";

/**
 * A redis-server child on a free port; `persistDir` turns on the append-only
 * file there; `extra` are more command-line options.
 */
export async function startRedisServer(
  persistDir?: string,
  port?: number,
  extra: string[] = [],
): Promise<{ url: string; port: number; process: ChildProcess }> {
  const p = port ?? (await freePort());
  const args = ["--port", String(p), "--save", "", "--daemonize", "no", "--bind", "127.0.0.1"];
  args.push(...extra);
  if (persistDir !== undefined)
    args.push("--appendonly", "yes", "--appendfsync", "always", "--dir", persistDir);
  else args.push("--appendonly", "no");
  const child = spawn("redis-server", args, { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    const started = Date.now();
    const poll = async () => {
      if (await reachable(p)) return resolve();
      if (Date.now() - started > 5_000) return reject(new Error("redis-server did not start"));
      setTimeout(poll, 50);
    };
    void poll();
  });
  return { url: `redis://127.0.0.1:${p}`, port: p, process: child };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, "127.0.0.1");
  });
}
