/**
 * The fake Bot API server in a process of its own, so that its CPU time is not
 * counted against the bot. Commands come over IPC from the orchestrator (which
 * relays them from the bot process); see `protocol.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createFakeBotApi } from "../src/testing/index.js";
import {
  type CloseRequest,
  now,
  type RpcReply,
  type RpcRequest,
  type ServerCommand,
  type ServerReady,
  type ServerReplies,
} from "./protocol.js";

const api = await createFakeBotApi();

function send(message: ServerReady | RpcReply): void {
  process.send?.(message);
}

async function execute(command: ServerCommand): Promise<ServerReplies[ServerCommand["cmd"]]> {
  switch (command.cmd) {
    case "pushMessages": {
      const updates = api.pushMessages({
        count: command.count,
        chats: command.chats,
        firstChatId: command.firstChatId,
      });
      return {
        firstId: updates[0]?.update_id ?? 0,
        lastId: updates[updates.length - 1]?.update_id ?? 0,
      };
    }
    case "pushQuiet": {
      // Small groups spread over time, each group in chats of their own.
      const pushed: Array<[number, number]> = [];
      for (let g = 0; g < command.groups; g++) {
        if (g > 0) await sleep(command.intervalMs);
        const at = now();
        const updates = api.pushMessages({
          count: command.perGroup,
          chats: command.perGroup,
          firstChatId: command.firstChatId + g * command.perGroup,
        });
        for (const update of updates) pushed.push([update.update_id, at]);
      }
      return pushed;
    }
    case "stats": {
      const s = api.stats;
      return {
        getUpdatesCalls: s.getUpdatesCalls,
        confirmedOffset: s.confirmedOffset,
        delivered: s.delivered,
        redelivered: s.redelivered,
        pending: api.pending(),
        webhookDeliveries: s.webhookDeliveries,
        webhookResends: s.webhookResends,
        webhookMaxConnections: s.webhookMaxConnections,
        webhookAnswered: s.webhookAnswered,
        connections: s.connections,
      };
    }
  }
}

process.on("message", (message: RpcRequest | CloseRequest) => {
  if (message.type === "close") {
    void api.close().then(() => {
      process.disconnect?.();
      // Nothing should be left, but never outlive the orchestrator's patience.
      setTimeout(() => process.exit(0), 2_000).unref();
    });
    return;
  }
  if (message.type !== "rpc") return;
  execute(message.command).then(
    (result) => send({ type: "rpc-reply", id: message.id, result }),
    (error: unknown) => send({ type: "rpc-reply", id: message.id, error: String(error) }),
  );
});
process.on("disconnect", () => {
  // The orchestrator is gone (e.g. it was interrupted): do not linger.
  void api.close().then(() => process.exit(0));
});

send({ type: "ready", url: api.url, token: api.token });
