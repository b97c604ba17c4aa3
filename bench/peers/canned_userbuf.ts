/**
 * Reference only: canned.ts, but reading through net.Socket's user-buffer
 * read path (the `onread` option of `net.connect`, set on an accepted
 * socket) with a copy of each read into a pooled Buffer.
 */
import { createServer, Socket } from "node:net";
import { HeadCounter, responses } from "./canned-count.ts";

const probe = new Socket();
const sym = (d: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === d)!;
const kBuffer = sym("kBuffer");
const kBufferCb = sym("kBufferCb");
probe.destroy();
const shared = Buffer.allocUnsafe(65536);

const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
  const counter = new HeadCounter();
  const s = socket as unknown as Record<symbol, unknown> & { _handle: { useUserBuffer(b: Buffer): void } };
  s[kBuffer] = shared;
  s[kBufferCb] = (nread: number, buf: Buffer) => {
    const chunk = Buffer.allocUnsafe(nread);
    buf.copy(chunk, 0, 0, nread);
    const n = counter.count(chunk);
    if (n > 0) socket.write(responses(n));
  };
  s._handle.useUserBuffer(shared);
  socket.on("error", () => {});
  socket.resume();
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") {
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
  }
});
process.on("SIGTERM", () => process.exit(0));
