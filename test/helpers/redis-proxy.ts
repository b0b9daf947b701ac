import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of Redis that can go silent: `silence()` makes every
 * connection, open or new, swallow what it is sent and never answer, as a
 * hung server or a network path that drops packets without a reset would;
 * `restore()` lets new connections through again (the silenced ones stay
 * silent, as a dead path does, until the client closes them).
 */
export class SilentableProxy {
  silenced = false;
  /** Connections accepted so far. */
  accepted = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly muted = new Set<Socket>();

  private constructor(private readonly target: number) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on a free port of 127.0.0.1, forwarding to Redis on `targetPort`. */
  static async start(targetPort: number): Promise<SilentableProxy> {
    const proxy = new SilentableProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    const address = this.server.address();
    return `redis://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }

  silence(): void {
    this.silenced = true;
    for (const s of this.sockets) this.muted.add(s);
  }

  restore(): void {
    this.silenced = false;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket): void {
    this.accepted++;
    this.sockets.add(client);
    if (this.silenced) this.muted.add(client);
    const upstream = connect(this.target, "127.0.0.1");
    this.sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      this.muted.delete(client);
    };
    client.on("data", (chunk) => {
      if (!this.muted.has(client)) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!this.muted.has(client)) client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
  }
}
