/**
 * examples/chat with the `ws` client: broadcast, join/leave notices, name
 * cleaning, the app's own close codes, and the slow reader that must be
 * dropped rather than buffered for without bound. (Two Chromium pages chat
 * through the same example in chat-browser.test.ts.)
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import type { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import {
  type ChatEvent,
  createChatApp,
  MAX_BUFFERED_BYTES,
  MAX_TEXT_LENGTH,
  SLOW_READER_CLOSE_CODE,
} from "../../examples/chat/app.ts";
import { startServer } from "../helpers.ts";

type Started = Awaited<ReturnType<typeof startServer>>;

/** A chat member over the `ws` client, keeping every event it got. */
class Member {
  readonly ws: WebSocket;
  readonly events: ChatEvent[] = [];
  /** Bytes of every message received. */
  bytes = 0;
  #waiters: { match: (e: ChatEvent) => boolean; resolve: (e: ChatEvent) => void }[] = [];

  constructor(port: number, query: string) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`, { perMessageDeflate: false });
    this.ws.on("message", (data: Buffer) => {
      this.bytes += data.length;
      const event = JSON.parse(data.toString()) as ChatEvent;
      this.events.push(event);
      const ready = this.#waiters.filter((w) => w.match(event));
      this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
      for (const w of ready) w.resolve(event);
    });
  }

  /** The first event, already received or still to come, that matches. */
  waitFor(match: (e: ChatEvent) => boolean): Promise<ChatEvent> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Resolves with the close code and reason. */
  closed(): Promise<[number, string]> {
    return once(this.ws, "close").then(([code, reason]) => [code as number, String(reason)]);
  }
}

const joined = (name: string) => (e: ChatEvent) => e.type === "join" && e.name === name;
const left = (name: string) => (e: ChatEvent) => e.type === "leave" && e.name === name;
const said = (name: string, text: string) => (e: ChatEvent) =>
  e.type === "message" && e.name === name && e.text === text;

describe("examples/chat with the ws client", { timeout: 20_000 }, () => {
  let s: Started;
  const members: Member[] = [];
  /** Joins as `name` and waits until the room has announced it (to this member too). */
  const join = async (name: string, query = `?name=${encodeURIComponent(name)}`) => {
    const m = new Member(s.port, query);
    members.push(m);
    await m.waitFor(joined(name));
    return m;
  };

  before(async () => {
    s = await startServer(createChatApp(), { interface: "fetch", accessLog: false });
  });
  after(async () => {
    for (const m of members) m.ws.terminate();
    await s.server.close(500);
  });

  test("serves the page at / and refuses a plain request at /ws", async () => {
    const page = await fetch(`${s.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    assert.match(await page.text(), /<ol id="log" role="log"/);
    // Not an upgrade: the helper passes, and nothing else answers /ws.
    assert.equal((await fetch(`${s.url}/ws`)).status, 404);
  });

  test("broadcasts every message to everyone, the sender included, in order", async () => {
    const ada = await join("ada");
    const bob = await join("bob");
    const cy = await join("cy");
    bob.ws.send("first");
    bob.ws.send("second ✓");
    for (const m of [ada, bob, cy]) {
      await m.waitFor(said("bob", "second ✓"));
      const texts = m.events.flatMap((e) => (e.type === "message" && e.name === "bob" ? [e.text] : []));
      assert.deepEqual(texts, ["first", "second ✓"]);
    }
    for (const m of [ada, bob, cy]) m.ws.close(1000);
  });

  test("announces joins and leaves to the others", async () => {
    const dee = await join("dee");
    const eve = await join("eve");
    await dee.waitFor(joined("eve"));
    eve.ws.close(1000);
    assert.deepEqual(await dee.waitFor(left("eve")), { type: "leave", name: "eve" });
    dee.ws.close(1000);
  });

  test("cleans names: control characters and runs of spaces go, none at all makes a guest", async () => {
    const messy = await join("fay gee", `?name=${encodeURIComponent("  fay\u0007\n\tgee  ")}`);
    const guest = new Member(s.port, "");
    members.push(guest);
    const event = await guest.waitFor((e) => e.type === "join" && e.name.startsWith("guest-"));
    assert.match(event.name, /^guest-\d+$/);
    messy.ws.close(1000);
    guest.ws.close(1000);
  });

  test("closes with 1003 on a binary message and 1009 on a line over the limit, and says why", async () => {
    const observer = await join("observer");
    const bin = await join("bin");
    const closedBin = bin.closed();
    bin.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await closedBin)[0], 1003);
    assert.deepEqual(await observer.waitFor(left("bin")), {
      type: "leave",
      name: "bin",
      reason: "sent binary data",
    });

    const long = await join("long");
    const closedLong = long.closed();
    long.ws.send("x".repeat(MAX_TEXT_LENGTH + 1));
    assert.equal((await closedLong)[0], 1009);
    assert.equal(((await observer.waitFor(left("long"))) as { reason?: string }).reason, "message too long");
    observer.ws.close(1000);
  });

  test("drops a member that stops reading, with the documented code, instead of buffering for it", async () => {
    const slow = await join("slow");
    const talker = await join("talker");
    await slow.waitFor(joined("talker"));
    // Stop reading at the TCP level: the server's writes to this member back up.
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();

    // The talker says one large line at a time and waits for its own copy, so the
    // server is never flooded faster than it writes; it stops once the slow one is gone.
    const line = "y".repeat(60_000);
    const say = async (n: number) => {
      talker.ws.send(`${n} ${line}`);
      await talker.waitFor(said("talker", `${n} ${line}`));
      await new Promise(setImmediate); // let a pending leave notice land
    };
    // Far beyond the app's limit plus what loopback socket buffers hold:
    // reaching it without a drop means the server buffers without bound.
    const ceiling = 64 * 1024 * 1024;
    let sent = 0;
    let dropped = false;
    void talker.waitFor(left("slow")).then(() => (dropped = true));
    while (!dropped) {
      assert.ok(sent * line.length < ceiling, `slow reader still a member after ${sent} large lines`);
      await say(sent++);
    }
    assert.deepEqual(await talker.waitFor(left("slow")), { type: "leave", name: "slow", reason: "too slow" });
    assert.ok(sent * line.length > MAX_BUFFERED_BYTES, "dropped before passing the app's limit");
    // The room goes on talking as much again; none of it may pile up for the slow member.
    const droppedAt = sent;
    while (sent < 2 * droppedAt) await say(sent++);

    // Read again: what the server still held for the slow member arrives, then the close.
    const closed = slow.closed();
    socket.resume();
    assert.equal((await closed)[0], SLOW_READER_CLOSE_CODE);
    const heard = slow.events.flatMap((e) => (e.type === "message" ? [Number.parseInt(e.text, 10)] : []));
    assert.ok(heard.length > 0, "the slow member heard nothing before it stopped reading");
    assert.ok(
      Math.max(...heard) < droppedAt,
      `the slow member got line ${Math.max(...heard)}, said after it was dropped at ${droppedAt}`,
    );
    talker.ws.close(1000);
  });
});
