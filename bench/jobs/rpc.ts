/** Commands to the fake server, sent through the orchestrator over IPC. */
import type { RpcReply, RpcRequest, ServerCommand, ServerReplies } from "../protocol.js";

let nextRpcId = 1;
const replies = new Map<
  number,
  { resolve: (value: unknown) => void; reject: (e: Error) => void }
>();

process.on("message", (message: RpcReply) => {
  if (message.type !== "rpc-reply") return;
  const waiter = replies.get(message.id);
  if (waiter === undefined) return;
  replies.delete(message.id);
  if (message.error !== undefined) waiter.reject(new Error(`server: ${message.error}`));
  else waiter.resolve(message.result);
});

export function server<C extends ServerCommand>(command: C): Promise<ServerReplies[C["cmd"]]> {
  const id = nextRpcId++;
  const request: RpcRequest = { type: "rpc", id, command };
  return new Promise((resolve, reject) => {
    replies.set(id, { resolve: resolve as (value: unknown) => void, reject });
    process.send?.(request);
  });
}
