/**
 * Two headless Chromium pages chat through examples/chat: the browser is
 * the third independent WebSocket client (after
 * `ws` and undici). playwright-core drives the system's Chromium (Debian's
 * `chromium` package; `.ci/run` installs it), found through CHROMIUM_PATH or
 * `chromium` on PATH. Without one it is skipped with a line saying how to
 * install it, except under CI, where it fails (test/needs.ts).
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type CliProcess, startCli } from "../helpers.ts";
import { CHROMIUM, needs, which } from "../needs.ts";

/** CHROMIUM_PATH when set, else `chromium` on PATH. */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || which("chromium");
const skip = process.env.CHROMIUM_PATH ? false : needs(CHROMIUM);

/** How long one step (a page loading, a line appearing) may take before the test fails. */
const STEP_MS = 10_000;

describe("examples/chat in Chromium", { timeout: 30_000, skip }, () => {
  let server: CliProcess;
  let url: string;
  let browser: Browser;

  before(async () => {
    const executablePath = CHROMIUM_PATH!;
    // The CLI, as a user starts it: `tsgi examples/chat/app.ts`.
    [server, browser] = await Promise.all([
      startCli(["--port", "0", "--no-access-log", "examples/chat/app.ts"]),
      // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
      chromium.launch({ executablePath, args: ["--no-sandbox"] }),
    ]);
    url = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await browser?.close();
    server?.child.kill("SIGTERM");
    await server?.exited;
  });

  /** Resolves once the page's message log shows a line with exactly `text`. */
  const sees = (page: Page, text: string) =>
    page
      .getByRole("log")
      .getByRole("listitem")
      .filter({ hasText: text })
      .last()
      .waitFor({ timeout: STEP_MS });

  test("two pages join, chat and see each other leave", async () => {
    const context = await browser.newContext();
    // Ada joins through ?name=, Bob through the page's name form.
    const ada = await context.newPage();
    await ada.goto(`${url}/?name=Ada`, { timeout: STEP_MS });
    await sees(ada, "Ada joined");

    const bob = await context.newPage();
    await bob.goto(`${url}/`, { timeout: STEP_MS });
    await bob.getByLabel("Your name").fill("Bob");
    await bob.getByRole("button", { name: "Join" }).click();
    await sees(bob, "Bob joined");
    await sees(ada, "Bob joined");

    await bob.getByRole("textbox", { name: "Message" }).fill("hello from Bob <b>not bold</b>");
    await bob.getByRole("button", { name: "Send" }).click();
    await sees(ada, "Bob: hello from Bob <b>not bold</b>");
    await sees(bob, "Bob: hello from Bob <b>not bold</b>");
    // Text stays text: the page never turns a message into markup.
    assert.equal(await ada.locator("#log b").count(), 0);

    await ada.getByRole("textbox", { name: "Message" }).fill("hi Bob");
    await ada.getByRole("textbox", { name: "Message" }).press("Enter");
    await sees(bob, "Ada: hi Bob");

    await bob.close();
    await sees(ada, "Bob left");
    assert.match((await ada.getByRole("status").textContent()) ?? "", /Connected as Ada/);
    await context.close();
  });
});
