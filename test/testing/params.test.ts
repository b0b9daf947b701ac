import { InputFile } from "grammy";
import { describe, expect, it } from "vitest";
import { closeAfterEach, newBot, start } from "./harness.js";

closeAfterEach();

describe("request parameters", () => {
  it("records multipart uploads with their fields and file names", async () => {
    const api = await start();
    await newBot().api.sendPhoto(5, new InputFile(Buffer.from("abc"), "cat.jpg"), {
      caption: "Grüße",
    });
    const [{ params }] = api.calls("sendPhoto");
    expect(params).toMatchObject({ chat_id: 5, caption: "Grüße" });
    expect(Object.values(params)).toContainEqual({ filename: "cat.jpg", size: 3 });
  });
});
