/**
 * Reference only, not an HTTP server: the canned server of canned.ts, but
 * reading and writing through the socket's libuv handle instead of the
 * stream, the way Node's own net.js does underneath (lib/net.js,
 * lib/internal/stream_base_commons.js): `handle.onread` receives each read
 * (its length and offset in the shared `streamBaseState`), and
 * `handle.writeBuffer(req, buffer)` with a `WriteWrap` writes, with no
 * Writable, no 'data' event and no callback bookkeeping. It shows what
 * Node's stream layer costs above the handle. These are internal APIs
 * (`process.binding('stream_wrap')`), the same on Node 20 and 24.
 */
import { createServer, type Socket } from "node:net";
import { HeadCounter, responses } from "./canned-count.ts";

interface StreamWrap {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
}
interface WriteReq {
  handle: Handle;
  oncomplete: (status: number) => void;
  async: boolean;
}
interface Handle {
  onread: (this: Handle, buffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  setNoDelay(on: boolean): number;
}

const binding = (process as unknown as { binding(name: string): StreamWrap }).binding("stream_wrap");
const { WriteWrap, streamBaseState, kReadBytesOrError, kArrayBufferOffset } = binding;
const done = () => {};

// pauseOnConnect: net.Socket does not start reading, so the handle is ours to drive.
const server = createServer({ pauseOnConnect: true }, (socket: Socket) => {
  const handle = (socket as unknown as { _handle: Handle })._handle;
  const counter = new HeadCounter();
  socket.on("error", () => {});
  handle.setNoDelay(true);
  handle.onread = function onread(buffer) {
    const nread = streamBaseState[kReadBytesOrError]!;
    if (nread <= 0 || buffer === undefined) {
      if (nread < 0) socket.destroy(); // EOF or an error
      return;
    }
    const n = counter.count(new Uint8Array(buffer, streamBaseState[kArrayBufferOffset], nread));
    if (n === 0) return;
    const req = new WriteWrap();
    req.handle = handle;
    req.oncomplete = done;
    req.async = false;
    // The batches are kept alive by canned-count.ts, so an async write's buffer stays valid.
    if (handle.writeBuffer(req, responses(n)) !== 0) socket.destroy();
  };
  handle.readStart();
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") {
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
  }
});
process.on("SIGTERM", () => process.exit(0));
