/**
 * A real Hono app on tsgi's Fetch gateway: the counterpart of the seed's
 * "Flask app on our server". Hono builds a Web-standard `fetch(request, env)`
 * handler; tsgi parses HTTP/1.1 off the socket, turns each request into a
 * `Request`, calls `app.fetch(request, info)` and writes the `Response` back,
 * streaming its body as it is produced. The second argument, tsgi's
 * connection info, reaches handlers as `c.env`.
 *
 *   tsgi --port 8000 examples/hono_app.ts
 *   curl -i http://127.0.0.1:8000/users/42
 *   curl -i 'http://127.0.0.1:8000/search?q=socket'
 *   curl -i -H 'Content-Type: application/json' -d '{"a":1}' http://127.0.0.1:8000/echo
 *   curl -i -d 'name=Ada&lang=ts' http://127.0.0.1:8000/form
 *   curl -N http://127.0.0.1:8000/stream
 *   curl -i http://127.0.0.1:8000/boom
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";

/**
 * What arrives as `c.env`: on tsgi the Fetch gateway's connection info. Other
 * hosts pass other things (or nothing), so every field is optional.
 */
type Bindings = {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  tls?: boolean;
};

/** The demo's users. */
const USERS: Record<string, { id: number; name: string }> = {
  "1": { id: 1, name: "Ada Lovelace" },
  "2": { id: 2, name: "Alan Turing" },
  "42": { id: 42, name: "Grace Hopper" },
};

const WORDS = ["socket", "parser", "gateway", "stream", "header", "keep-alive"];

/** How many events `/stream` sends, and the pause between them. */
export const STREAM_EVENTS = 3;
export const STREAM_DELAY_MS = 100;

const app = new Hono<{ Bindings: Bindings }>();

app.get("/", (c) => c.text("Hello from Hono on tsgi!\n"));

// Route parameters.
app.get("/users/:id", (c) => {
  const user = USERS[c.req.param("id")];
  if (user === undefined) return c.json({ error: "no such user", id: c.req.param("id") }, 404);
  return c.json(user);
});

// The query string.
app.get("/search", (c) => {
  const q = c.req.query("q") ?? "";
  return c.json({ q, results: WORDS.filter((w) => q !== "" && w.includes(q.toLowerCase())) });
});

// JSON in, JSON out: the parsed body with a field added.
app.post("/echo", async (c) => {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new HTTPException(400, { message: "the body is not valid JSON" });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HTTPException(400, { message: "expected a JSON object" });
  }
  return c.json({ ...body, echoed: true });
});

// A form post (application/x-www-form-urlencoded or multipart/form-data).
app.post("/form", async (c) => {
  const form = await c.req.parseBody();
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(form)) {
    fields[name] = typeof value === "string" ? value : `(file ${value instanceof File ? value.name : "?"})`;
  }
  return c.json({ fields });
});

// Server-sent events, written as they are produced.
app.get("/stream", (c) =>
  streamSSE(c, async (stream) => {
    for (let i = 1; i <= STREAM_EVENTS; i++) {
      await stream.writeSSE({ event: "tick", id: String(i), data: JSON.stringify({ n: i }) });
      if (i < STREAM_EVENTS) await stream.sleep(STREAM_DELAY_MS);
    }
  }),
);

// Who is asking: the connection info the host passed in.
app.get("/whoami", (c) =>
  c.json({ remoteAddress: c.env?.remoteAddress ?? null, remotePort: c.env?.remotePort ?? null }),
);

// The error handler's test route.
app.get("/boom", () => {
  throw new Error("boom");
});

app.notFound((c) => c.json({ error: "not found", path: c.req.path }, 404));

app.onError((err, c) => {
  if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
  console.error(`${c.req.method} ${c.req.path}: ${err.message}`);
  return c.json({ error: "internal error" }, 500);
});

export default app;
