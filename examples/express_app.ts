/**
 * An Express 5 app on tsgi's node:http-style gateway, unchanged from how it
 * would run on node:http: a router with route parameters, JSON and
 * urlencoded form bodies (`express.json()` and `express.urlencoded()`,
 * which are body-parser's, re-exported by Express), static files with
 * `express.static` (examples/public/), a large download streamed with
 * backpressure, and a WebSocket echo through `ws` fed by the server's
 * `'upgrade'` event.
 *
 *   tsgi examples/express_app.ts      # http://127.0.0.1:8000/
 *   tsgi --workers 2 examples/express_app.ts
 *
 * The default export is an `http.Server` made with `http.createServer(app)`
 * and never listened: tsgi detects it and emits `'request'` and `'upgrade'`
 * on it (docs/interfaces/node.md). Exporting `app` alone would serve
 * everything but the WebSocket.
 */

import { createServer } from "node:http";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import express from "express";
import { WebSocketServer } from "ws";

const app = express();

// Static files: ETag, Last-Modified, Range and 304s are serve-static's.
app.use(express.static(fileURLToPath(new URL("./public/", import.meta.url))));

// A router mounted at /api: route parameters, query, JSON in and out.
const api = express.Router();
api.get("/users/:id", (req, res) => {
  res.json({ id: req.params.id, q: req.query.q ?? null });
});
api.post("/echo", express.json(), (req, res) => {
  res.status(201).json({ received: req.body });
});
app.use("/api", api);

// A urlencoded form body (what an HTML form posts).
app.post("/form", express.urlencoded({ extended: false }), (req, res) => {
  const { name } = req.body as { name?: string };
  res.type("text").send(`Hello, ${name ?? "stranger"}!\n`);
});

const CHUNK = 64 * 1024;
const MAX_DOWNLOAD = 1024 * 1024 * 1024;

/** The bytes of the download: byte i is i mod 256, so a client can check every one. */
function* pattern(size: number): Generator<Buffer> {
  const block = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i++) block[i] = i % 256;
  // CHUNK is a multiple of 256, so every block starts at byte value 0.
  for (let sent = 0; sent < size; sent += CHUNK) yield block.subarray(0, Math.min(CHUNK, size - sent));
}

// A large generated body, streamed: pipe() stops reading the generator while
// res.write() returns false and resumes on 'drain', so a slow client never
// makes the server buffer the whole download.
app.get("/download", (req, res) => {
  const asked = Number(req.query.bytes ?? 16 * 1024 * 1024);
  if (!Number.isSafeInteger(asked) || asked < 0 || asked > MAX_DOWNLOAD) {
    res.status(400).type("text").send(`bytes must be an integer from 0 to ${MAX_DOWNLOAD}\n`);
    return;
  }
  res.setHeader("Content-Type", "application/octet-stream");
  res.setHeader("Content-Disposition", 'attachment; filename="pattern.bin"');
  res.setHeader("Content-Length", String(asked));
  const body = Readable.from(pattern(asked), { objectMode: false });
  // The client leaving destroys res; stop generating too.
  res.on("close", () => body.destroy());
  body.pipe(res);
});

const server = createServer(app);

// WebSocket echo at /ws; ws takes the raw socket tsgi hands to 'upgrade'.
const wss = new WebSocketServer({ noServer: true });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) =>
    ws.send(isBinary ? data : `echo: ${String(data)}`, { binary: isBinary }),
  );
});
server.on("upgrade", (req, socket, head) => {
  if (new URL(req.url ?? "/", "http://localhost").pathname !== "/ws") {
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});
// tsgi emits 'close' on the server at shutdown: close the open WebSockets with 1001.
server.on("close", () => {
  for (const ws of wss.clients) ws.close(1001, "server shutting down");
});

export default server;
