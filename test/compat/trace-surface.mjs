// A tool, not a test: loaded with `node --import` in front of a suite on
// node:http, it records which members of node:http's server-side objects
// (the Server, its sockets, the IncomingMessage requests and ServerResponse
// responses it makes) are used from outside Node's own code (by the tests and
// the libraries: express, ws, supertest, body-parser, ...), and writes them
// to COMPAT_TRACE_OUT at exit. It lists the surface tsgi's node:http-style
// gateway has to offer. Slow (it takes a stack trace per access).
//
//   COMPAT_TRACE_OUT=/tmp/express.json node --import ./test/compat/trace-surface.mjs \
//     node_modules/mocha/bin/mocha.js ...   (from the suite's directory)
import { EventEmitter } from "node:events";
import { writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import stream from "node:stream";
import tls from "node:tls";

const kinds = new WeakMap(); // object -> "Server" | "Socket" | "IncomingMessage" | "ServerResponse"
const seen = new Map(); // "Kind member how" -> { count, by }
let busy = false;

function caller() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 5;
  const stack = new Error().stack.split("\n");
  Error.stackTraceLimit = limit;
  // [0] "Error", [1] caller(), [2] note(), [3] the wrapper, [4] whoever used the member
  const frame = stack[4] ?? "";
  if (frame.includes("node:") || frame.includes("trace-surface.mjs")) return undefined;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)|test\/compat\/(express|ws)\/([a-z]+)/.exec(frame);
  if (!m) return "?";
  return m[1] ?? `${m[2]}/${m[3]}`;
}

function note(obj, member, how) {
  if (busy) return;
  const kind = kinds.get(obj);
  if (!kind) return;
  busy = true;
  try {
    const by = caller();
    if (by === undefined) return;
    const key = `${kind}\t${member}\t${how}`;
    const entry = seen.get(key) ?? { count: 0, by: new Set() };
    entry.count++;
    entry.by.add(by);
    seen.set(key, entry);
  } finally {
    busy = false;
  }
}

function wrapPrototype(proto) {
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === "constructor") continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (!d?.configurable) continue;
    if (typeof d.value === "function") {
      const fn = d.value;
      const wrapped = function (...args) {
        const member =
          name === "on" ||
          name === "once" ||
          name === "prependListener" ||
          name === "addListener" ||
          name === "emit" ||
          name === "removeListener" ||
          name === "off" ||
          name === "listenerCount" ||
          name === "listeners"
            ? `${name}('${String(args[0])}')`
            : `${name}()`;
        note(this, member, "call");
        return fn.apply(this, args);
      };
      Object.defineProperty(wrapped, "name", { value: fn.name });
      Object.defineProperty(proto, name, { ...d, value: wrapped });
    } else if (d.get || d.set) {
      Object.defineProperty(proto, name, {
        ...d,
        get:
          d.get &&
          function () {
            note(this, name, "get");
            return d.get.call(this);
          },
        set:
          d.set &&
          function (v) {
            note(this, name, "set");
            d.set.call(this, v);
          },
      });
    }
  }
}

function track(obj, kind) {
  if (kinds.has(obj)) return;
  kinds.set(obj, kind);
  // Accessors that cannot be wrapped on the prototype (IncomingMessage's
  // headers and trailers are not configurable) are shadowed on the object.
  for (
    let proto = Object.getPrototypeOf(obj);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (Object.hasOwn(obj, name)) continue;
      if ("value" in d && typeof d.value !== "function" && !name.startsWith("_")) {
        // A default kept on the prototype (ServerResponse's statusCode).
        let value = d.value;
        Object.defineProperty(obj, name, {
          configurable: true,
          enumerable: true,
          get() {
            note(this, name, "get");
            return value;
          },
          set(v) {
            note(this, name, "set");
            value = v;
          },
        });
        continue;
      }
      if (d.configurable || !(d.get || d.set)) continue;
      Object.defineProperty(obj, name, {
        configurable: true,
        enumerable: d.enumerable,
        get() {
          note(this, name, "get");
          return d.get?.call(this);
        },
        set(v) {
          note(this, name, "set");
          d.set?.call(this, v);
        },
      });
    }
  }
  for (const name of Object.getOwnPropertyNames(obj)) {
    const d = Object.getOwnPropertyDescriptor(obj, name);
    if (!d?.configurable || !("value" in d) || typeof d.value === "function") continue;
    let value = d.value;
    Object.defineProperty(obj, name, {
      configurable: true,
      enumerable: d.enumerable,
      get() {
        note(this, name, "get");
        return value;
      },
      set(v) {
        note(this, name, "set");
        value = v;
      },
    });
  }
}

for (const proto of [
  EventEmitter.prototype,
  stream.Stream.prototype,
  stream.Readable.prototype,
  stream.Writable.prototype,
  stream.Duplex.prototype,
  net.Socket.prototype,
  tls.TLSSocket.prototype,
  net.Server.prototype,
  tls.Server.prototype,
  http.Server.prototype,
  https.Server.prototype,
  http.IncomingMessage.prototype,
  http.OutgoingMessage.prototype,
  http.ServerResponse.prototype,
]) {
  wrapPrototype(proto);
}

function watch(server) {
  track(server, "Server");
  server.prependListener("connection", (socket) => track(socket, "Socket"));
  server.prependListener("secureConnection", (socket) => track(socket, "Socket"));
  server.prependListener("request", (req, res) => {
    track(req, "IncomingMessage");
    track(res, "ServerResponse");
  });
  server.prependListener("upgrade", (req, socket) => {
    track(req, "IncomingMessage");
    track(socket, "Socket");
  });
  return server;
}

for (const mod of [http, https]) {
  const create = mod.createServer;
  mod.createServer = function createServer(...args) {
    return watch(create.apply(this, args));
  };
}

process.on("exit", () => {
  const out = process.env.COMPAT_TRACE_OUT;
  if (!out) return;
  const rows = [...seen].map(([key, { count, by }]) => {
    const [kind, member, how] = key.split("\t");
    return { kind, member, how, count, by: [...by].sort() };
  });
  writeFileSync(out, `${JSON.stringify(rows, null, 1)}\n`);
});
