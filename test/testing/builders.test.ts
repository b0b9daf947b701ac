import { describe, expect, it } from "vitest";
import { closeAfterEach, start } from "./harness.js";

closeAfterEach();

describe("builders", () => {
  it("spreads pushMessages over chats and users", async () => {
    const api = await start();
    const privateChats = api.pushMessages({ count: 4, chats: 2, firstChatId: 10 });
    expect(
      privateChats.map((u) => [u.message?.chat.id, u.message?.from.id, u.message?.text]),
    ).toEqual([
      [10, 10, "msg 0"],
      [11, 11, "msg 1"],
      [10, 10, "msg 2"],
      [11, 11, "msg 3"],
    ]);
    const groups = api.pushMessages({ count: 3, chats: 1, users: 2, text: (i) => `t${i}` });
    expect(groups.map((u) => [u.message?.chat.type, u.message?.from.id, u.message?.text])).toEqual([
      ["group", 1, "t0"],
      ["group", 2, "t1"],
      ["group", 1, "t2"],
    ]);
  });

  it("builds messages with a command entity, callback queries and edits", async () => {
    const api = await start();
    const { message } = api.pushMessage(-100, "/start@test_bot now", {
      fromId: 7,
      chatType: "supergroup",
    });
    expect(message).toMatchObject({
      message_id: 1,
      chat: { id: -100, type: "supergroup", title: "Group -100" },
      from: { id: 7, is_bot: false, first_name: "User 7" },
      entities: [{ type: "bot_command", offset: 0, length: 15 }],
    });
    const { callback_query } = api.pushCallbackQuery({ fromId: 7, chatId: -5 });
    expect(callback_query).toMatchObject({
      id: "1",
      from: { id: 7 },
      chat_instance: "-5",
      data: "data",
      message: { message_id: 2, chat: { type: "supergroup" }, from: { id: api.botInfo.id } },
    });
    const { edited_message } = api.pushEditedMessage(7, 1, "fixed");
    expect(edited_message).toMatchObject({ message_id: 1, text: "fixed", chat: { id: 7 } });
    expect(edited_message?.edit_date).toEqual(expect.any(Number));
    expect(() => api.pushMessage(1, "x", { chatType: "channel" as never })).toThrow(
      /options\.chatType/,
    );
    expect(() => api.pushMessages({ count: 1, chats: 0 })).toThrow(/options\.chats/);
  });
});
