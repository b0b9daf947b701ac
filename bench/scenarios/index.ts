/** Every scenario, in the order they run and RESULTS.md lists them, and --scenario's choice. */
import { options, usageError } from "../args.js";
import { clientScenario } from "./client.js";
import {
  clusterFailoverScenario,
  clusterOverheadScenario,
  clusterScaleScenario,
} from "./cluster.js";
import { fairnessScenario } from "./fairness.js";
import { getUpdatesFloor, handleUpdateFloor } from "./floors.js";
import { journalScenario } from "./journal.js";
import { memoryScenario } from "./memory.js";
import { metricsScenario } from "./metrics.js";
import type { Scenario } from "./scenario.js";
import { stopScenario } from "./stop.js";
import { throughputScenario } from "./throughput.js";
import { WEBHOOK_SCENARIOS } from "./webhook.js";
import { workersScenario } from "./workers.js";

export const SCENARIOS: Scenario[] = [
  throughputScenario("throughput-noop", 0, false),
  throughputScenario("throughput-5ms", 5, false),
  throughputScenario("throughput-noop-seq", 0, true),
  throughputScenario("throughput-5ms-seq", 5, true),
  clientScenario(false),
  clientScenario(true),
  handleUpdateFloor,
  getUpdatesFloor,
  fairnessScenario(500),
  fairnessScenario(50),
  stopScenario,
  journalScenario(0),
  journalScenario(5),
  metricsScenario,
  workersScenario(false),
  workersScenario(true),
  memoryScenario(false),
  memoryScenario(true),
  ...WEBHOOK_SCENARIOS,
  clusterOverheadScenario(0),
  clusterOverheadScenario(5),
  clusterScaleScenario,
  clusterFailoverScenario,
];

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** The scenarios --scenario names (exactly or by prefix), in their usual order; all by default. */
export function selectScenarios(): Scenario[] {
  const wanted = options.scenarios;
  if (wanted.length === 0) return SCENARIOS;
  const chosen = new Set<Scenario>();
  for (const name of wanted) {
    const exact = scenarioNamed(name);
    const matches = exact ? [exact] : SCENARIOS.filter((s) => s.name.startsWith(name));
    if (matches.length === 0)
      usageError(
        `unknown --scenario ${name}; choose from:\n  ${SCENARIOS.map((s) => s.name).join("\n  ")}`,
      );
    for (const match of matches) chosen.add(match);
  }
  return SCENARIOS.filter((s) => chosen.has(s));
}
