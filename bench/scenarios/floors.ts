/**
 * The floors: what grammY alone costs per update, without a runner, for the
 * overhead table: handling (bot.handleUpdate) and fetching (bot.api.getUpdates).
 */
import { BOT_CPU, CALLS, int, RATE, type Scenario, withoutRatio } from "./scenario.js";
import { CHATS, UPDATES } from "./throughput.js";

export const handleUpdateFloor: Scenario = {
  name: "handle-update-floor",
  title: `handle-update-floor: the same ${int(UPDATES)} updates fed to bot.handleUpdate() one after another (no HTTP, no runner), no-op middleware`,
  impls: ["floor"],
  needsServer: false,
  timeoutMs: 60_000,
  job: () => ({ kind: "handle-update-floor", updates: UPDATES, chats: CHATS }),
  metrics: [RATE, BOT_CPU].map(withoutRatio),
};

export const getUpdatesFloor: Scenario = {
  name: "get-updates-floor",
  title: `get-updates-floor: a loop of bot.api.getUpdates({ offset, limit: 100, timeout: 0 }) draining ${int(UPDATES)} updates, no handling`,
  impls: ["floor"],
  needsServer: true,
  timeoutMs: 60_000,
  job: () => ({ kind: "get-updates-floor", updates: UPDATES, chats: CHATS }),
  metrics: [RATE, BOT_CPU, CALLS].map(withoutRatio),
};
