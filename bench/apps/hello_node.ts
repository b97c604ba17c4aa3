/**
 * Benchmark app: a bare node:http `(req, res)` listener, served both by
 * tsgi's node:http-style gateway (`--interface node`) and by Node's own
 * `http` module (bench/peers/node_http.ts), so the two run the same code.
 * GET answers "Hello, World!"; POST reads the body and answers its size.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

const BODY = Buffer.from("Hello, World!");

export default function hello(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === "POST") {
    let size = 0;
    req.on("data", (chunk: Buffer) => (size += chunk.length));
    req.on("end", () => {
      const text = `received ${size} bytes`;
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
    });
    return;
  }
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": BODY.length });
  res.end(BODY);
}
