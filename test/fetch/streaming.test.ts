/**
 * Streamed responses through the Fetch gateway over real sockets: chunks
 * are flushed as the app produces them (server-sent events), a slow client
 * holds the app's stream back, a request body piped into the response, and
 * what happens when the client goes away: request.signal aborts and the
 * response stream is cancelled.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  assertServes,
  Client,
  encoder,
  type FetchServer,
  get,
  header,
  serveFetch,
  show,
  sleep,
  waitFor,
} from "./support.ts";

const SSE_GAP_MS = 300;
const BIG_STREAM = 24 * 1024 * 1024;
const PIECE = 64 * 1024;

/** Piece `i` of the /big stream: fresh memory each time, content depending on `i`. */
function piece(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.fill(i & 0xff);
  bytes[0] = 0x2a;
  return bytes;
}

describe("streamed responses", () => {
  let srv: FetchServer;
  /** What the apps recorded: abort events, cancel() calls, errors seen. */
  const events: string[] = [];
  /** Bytes the /big stream has produced so far. */
  let produced = 0;

  before(async () => {
    srv = await serveFetch(async (request) => {
      const path = new URL(request.url).pathname;
      switch (path) {
        case "/ok":
          return new Response("ok");
        case "/sse":
          return new Response(
            new ReadableStream<Uint8Array>({
              async start(controller) {
                controller.enqueue(encoder.encode("event: one\ndata: first\n\n"));
                await sleep(SSE_GAP_MS);
                controller.enqueue(encoder.encode("event: two\ndata: second\n\n"));
                controller.close();
              },
            }),
            { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
          );
        case "/big": {
          produced = 0;
          let i = 0;
          return new Response(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                if (produced >= BIG_STREAM) {
                  controller.close();
                  return;
                }
                const size = Math.min(PIECE, BIG_STREAM - produced);
                controller.enqueue(piece(i++, size));
                produced += size;
              },
            }),
          );
        }
        case "/ticking": {
          request.signal.addEventListener("abort", () => events.push("abort"));
          let n = 0;
          return new Response(
            new ReadableStream<Uint8Array>({
              async pull(controller) {
                if (n > 0) await sleep(20);
                controller.enqueue(encoder.encode(`data: ${n++}\n\n`));
              },
              cancel() {
                events.push("cancel");
              },
            }),
          );
        }
        case "/upload-aborted": {
          try {
            await request.text();
            events.push("body complete");
          } catch (err) {
            events.push(`body error: ${(err as Error).message}`);
          }
          return new Response("unreachable");
        }
        case "/upper":
          return new Response(
            request.body!.pipeThrough(
              new TransformStream<Uint8Array, Uint8Array>({
                transform(chunk, controller) {
                  controller.enqueue(encoder.encode(new TextDecoder().decode(chunk).toUpperCase()));
                },
              }),
            ),
          );
        default:
          return new Response("not found", { status: 404 });
      }
    });
  });
  after(() => srv.close());

  test("server-sent events: the first event arrives while the app waits to send the second", async () => {
    const client = await Client.open(srv.port);
    try {
      const start = Date.now();
      client.send(get("/sse"));
      await client.until(() => (client.text().includes("data: first") ? true : undefined), 2000, "event one");
      const firstAt = Date.now() - start;
      assert.doesNotMatch(client.text(), /data: second/, "the second event is not there yet");
      assert.ok(firstAt < SSE_GAP_MS - 50, `first event after ${firstAt} ms`);
      const res = await client.read();
      const secondAt = Date.now() - start;
      assert.ok(secondAt >= SSE_GAP_MS - 20, `whole response after ${secondAt} ms`);
      assert.equal(res.status, 200);
      assert.equal(res.framing, "chunked");
      assert.equal(header(res, "content-type"), "text/event-stream");
      assert.equal(res.body.toString(), "event: one\ndata: first\n\nevent: two\ndata: second\n\n");
      client.send(get("/ok"));
      assert.equal((await client.read()).body.toString(), "ok", "keep-alive after the stream");
    } finally {
      client.destroy();
    }
  });

  test("a client that does not read holds the stream back; all bytes arrive in order", async () => {
    const client = await Client.open(srv.port);
    try {
      client.socket.pause();
      client.send(get("/big"));
      await sleep(300);
      const ahead = produced;
      assert.ok(ahead < BIG_STREAM / 2, `the app produced ${ahead} bytes for a client reading none`);
      const hash = createHash("sha256");
      let got = 0;
      let buffered: Buffer = Buffer.alloc(0);
      // Decode chunked framing incrementally so the whole body is never held.
      let headDone = false;
      let remaining = 0;
      let finished = false;
      client.socket.removeAllListeners("data");
      const done = new Promise<void>((resolve, reject) => {
        client.socket.on("data", (data: Buffer) => {
          buffered = buffered.length === 0 ? data : Buffer.concat([buffered, data]);
          try {
            for (;;) {
              if (!headDone) {
                const end = buffered.indexOf("\r\n\r\n");
                if (end === -1) return;
                assert.match(
                  buffered.toString("latin1", 0, end),
                  /^HTTP\/1\.1 200 OK\r\n[\s\S]*Transfer-Encoding: chunked/,
                );
                buffered = buffered.subarray(end + 4);
                headDone = true;
              }
              if (remaining > 0) {
                const take = Math.min(remaining, buffered.length);
                hash.update(buffered.subarray(0, take));
                got += take;
                remaining -= take;
                buffered = buffered.subarray(take);
                if (remaining > 0) return;
                if (buffered.length < 2) return;
                buffered = buffered.subarray(2); // CRLF after the data
                continue;
              }
              const lf = buffered.indexOf("\r\n");
              if (lf === -1) return;
              const size = Number.parseInt(buffered.toString("latin1", 0, lf), 16);
              buffered = buffered.subarray(lf + 2);
              if (size === 0) {
                finished = true;
                resolve();
                return;
              }
              remaining = size;
            }
          } catch (err) {
            reject(err);
          }
        });
        client.socket.on("close", () =>
          finished ? resolve() : reject(new Error(`closed after ${got} bytes`)),
        );
      });
      client.socket.resume();
      await done;
      assert.equal(got, BIG_STREAM);
      const expected = createHash("sha256");
      for (let i = 0, sent = 0; sent < BIG_STREAM; i++, sent += PIECE) expected.update(piece(i, PIECE));
      assert.equal(hash.digest("hex"), expected.digest("hex"));
    } finally {
      client.destroy();
    }
  });

  test("a request body piped into the response", async () => {
    const client = await Client.open(srv.port);
    try {
      client.send("POST /upper HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n");
      await sleep(30);
      client.send("5\r\nworld\r\n0\r\n\r\n");
      const res = await client.read();
      assert.equal(res.status, 200, show(res));
      assert.equal(res.body.toString(), "HELLO WORLD");
    } finally {
      client.destroy();
    }
  });

  test("a client leaving mid-stream: request.signal aborts, the stream is cancelled, the server serves on", async () => {
    events.length = 0;
    const client = await Client.open(srv.port);
    client.send(get("/ticking"));
    await client.until(() => (client.text().includes("data: 1") ? true : undefined), 2000, "two events");
    client.destroy();
    await waitFor(() => events.includes("abort") && events.includes("cancel"), "abort and cancel");
    assert.deepEqual(events.sort(), ["abort", "cancel"]);
    assert.doesNotMatch(srv.errors.text, /ERROR/);
    await assertServes(srv.port);
  });

  test("a client leaving while the upload is incomplete: the body read rejects, the server serves on", async () => {
    events.length = 0;
    const client = await Client.open(srv.port);
    client.send("POST /upload-aborted HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part");
    await sleep(50);
    client.destroy();
    await waitFor(() => events.length === 1, "the app to see the end of the body");
    assert.match(events[0]!, /^body error: /);
    await assertServes(srv.port);
  });
});

// ---- departures the server does not notice ----------------------------------------

// A client that closes its side before its response is complete counts as
// gone (as in Node's http server and uvicorn): the app is told at once.

/** Closes at once, keeping the event loop alive until the forced close is done. */
async function closeNow(srv: FetchServer): Promise<void> {
  const keepAlive = setTimeout(() => {}, 5000);
  try {
    await srv.server.close(0);
  } finally {
    clearTimeout(keepAlive);
  }
}

test("a client leaving while the stream is silent: signal aborts, stream cancelled", async () => {
  const events: string[] = [];
  const srv = await serveFetch((request) => {
    request.signal.addEventListener("abort", () => events.push("abort"));
    return new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode("data: only\n\n"));
        },
        pull() {
          return new Promise(() => {}); // waits for an event that never comes
        },
        cancel() {
          events.push("cancel");
        },
      }),
    );
  });
  try {
    const client = await Client.open(srv.port);
    client.send(get("/silent"));
    await client.until(() => (client.text().includes("data: only") ? true : undefined), 2000, "the event");
    client.destroy();
    await waitFor(() => events.includes("abort") && events.includes("cancel"), "abort and cancel", 1000);
  } finally {
    await closeNow(srv);
  }
});

test("a client leaving while the handler works: request.signal aborts", async () => {
  const events: string[] = [];
  const srv = await serveFetch(async (request) => {
    request.signal.addEventListener("abort", () => events.push("abort"));
    await sleep(300);
    events.push("handler done");
    return new Response("too late");
  });
  try {
    const client = await Client.open(srv.port);
    client.send(get("/slow-handler"));
    await sleep(50);
    client.destroy();
    await waitFor(() => events.includes("handler done"), "the handler to finish", 2000);
    assert.deepEqual(events, ["abort", "handler done"]);
  } finally {
    await closeNow(srv);
  }
});
