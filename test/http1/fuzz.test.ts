/**
 * Bounded mutation fuzzing of the sans-IO core: corpus requests with bytes
 * flipped, inserted, deleted and spliced, fed in random pieces. The core may
 * only ever throw RemoteProtocolError, and must finish every input. A
 * failure prints the seed so it can be replayed (FUZZ_SEED=... FUZZ_MS=...).
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { NEED_DATA, PAUSED, RemoteProtocolError, ServerConnection } from "../../src/http1/index.ts";

const corpus = JSON.parse(
  readFileSync(new URL("../fixtures/corpus/llhttp/requests.json", import.meta.url), "utf8"),
) as { input_b64: string }[];
const seeds = corpus.map((c) => Buffer.from(c.input_b64, "base64"));
const SPECIAL = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x00, 0x7f, 0xff, 0x30, 0x3b, 0x22, 0x2c, 0x2f, 0x66];

/** A small deterministic PRNG (LCG), so a seed replays the same inputs. */
function prng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

function mutate(rnd: (n: number) => number): Buffer {
  let buf = Buffer.from(seeds[rnd(seeds.length)]!);
  for (let m = 1 + rnd(4); m > 0; m--) {
    const pos = rnd(buf.length + 1);
    const byte = SPECIAL[rnd(SPECIAL.length)]!;
    switch (rnd(4)) {
      case 0:
        if (buf.length > 0) buf[pos % buf.length] = byte;
        break;
      case 1:
        buf = Buffer.concat([buf.subarray(0, pos), Buffer.from([byte]), buf.subarray(pos)]);
        break;
      case 2:
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1 + rnd(4))]);
        break;
      default:
        buf = Buffer.concat([buf, seeds[rnd(seeds.length)]!]);
    }
  }
  return buf;
}

/** Feeds `input` in random pieces, answering each request, until it is consumed or refused. */
function run(input: Buffer, rnd: (n: number) => number): void {
  const conn = new ServerConnection();
  let offset = 0;
  let steps = 0;
  while (offset < input.length) {
    const n = 1 + rnd(64);
    conn.receiveData(input.subarray(offset, offset + n));
    offset += n;
    for (;;) {
      assert.ok(++steps < 100_000, "the core did not make progress");
      const event = conn.nextEvent();
      if (event === NEED_DATA) break;
      if (event === PAUSED) {
        if (conn.ourState === "SEND_RESPONSE")
          conn.sendResponse({ status: 200, headers: [] }, Buffer.from("ok"));
        if (!conn.reusable) return;
        conn.startNextCycle();
        continue;
      }
      if (event.type === "closed") return;
    }
  }
  conn.receiveEOF();
  for (;;) {
    assert.ok(++steps < 100_000, "the core did not make progress after EOF");
    const event = conn.nextEvent();
    if (event === NEED_DATA || event === PAUSED) return;
    if (event.type === "closed" || event.type === "end") return;
  }
}

test("mutated corpus requests: only RemoteProtocolError, always progress", () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const deadline = Date.now() + Number(process.env.FUZZ_MS ?? 2000);
  const rnd = prng(seed);
  let inputs = 0;
  while (Date.now() < deadline) {
    const input = mutate(rnd);
    inputs++;
    try {
      run(input, rnd);
    } catch (err) {
      if (err instanceof RemoteProtocolError) continue;
      assert.fail(
        `FUZZ_SEED=${seed}: input #${inputs} ${JSON.stringify(input.toString("latin1"))} threw ${String(err)}`,
      );
    }
  }
  assert.ok(inputs > 1000, `only ${inputs} inputs were tried`);
});
