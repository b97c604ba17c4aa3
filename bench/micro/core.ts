/**
 * Microbenchmark of the sans-IO core alone: parse a browser-like GET and
 * serialize a small response, over and over on one ServerConnection.
 * Run: node --import tsx bench/micro/core.ts [N]
 */

import { ServerConnection } from "../../src/http1/index.ts";

const N = Number(process.argv[2] ?? 500_000);
const request = Buffer.from(
  "GET /plaintext?x=1 HTTP/1.1\r\nHost: localhost:8000\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
    "Connection: keep-alive\r\nCookie: session=abcdef0123456789; theme=dark\r\n\r\n",
);
const body = Buffer.from("Hello, World!");
const headers = ["Content-Type", "text/plain"];
const conn = new ServerConnection({ date: () => "Tue, 24 Nov 2026 18:00:00 GMT" });

for (let round = 0; round < 3; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    conn.receiveData(request);
    conn.nextEvent(); // head
    conn.nextEvent(); // end
    conn.sendResponse({ status: 200, headers }, body);
    conn.startNextCycle();
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${ns.toFixed(0)} ns per request and response (${request.length}-byte head)`);
}
