// The demo's /metrics endpoint: the runner's Prometheus metrics
// (grammy-runner/prometheus) on a registry of their own, served over
// loopback. METRICS_PORT picks the port (default 9464, 0 for any free one).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import type { MetricsSource } from "../src/prometheus/index.js";
import { registerRunnerMetrics } from "../src/prometheus/index.js";

export interface MetricsEndpoint {
  url: string;
  close: () => Promise<void>;
}

/** Serves `handle`'s metrics at http://127.0.0.1:<port>/metrics and says where. */
export async function serveMetrics(handle: MetricsSource): Promise<MetricsEndpoint> {
  const registry = new Registry();
  const unregister = registerRunnerMetrics(handle, { registry });
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("Not found: try /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "Content-Type": registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  const port = Number(process.env.METRICS_PORT ?? 9464);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  console.log(`Prometheus metrics: curl ${url}`);
  return {
    url,
    close: async () => {
      unregister();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
