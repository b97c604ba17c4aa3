/**
 * A chat room: a Hono app serving a plain-JS page at `/` and a WebSocket at
 * `/ws` through Hono's standard `upgradeWebSocket` helper (from `tsgi/hono`).
 * Every message goes to everyone, joins and leaves are announced, and a
 * member that stops reading is dropped instead of making the server buffer
 * for it without bound.
 *
 *   tsgi examples/chat/app.ts           # then open http://127.0.0.1:8000/ in two tabs
 *   open http://127.0.0.1:8000/?name=ada
 *
 *   # Several instances sharing one room through Redis pub/sub (redis-room.ts):
 *   REDIS_URL=redis://127.0.0.1:6379 tsgi --port 8001 examples/chat/app.ts
 *   REDIS_URL=redis://127.0.0.1:6379 tsgi --port 8002 examples/chat/app.ts
 *
 * Protocol: the page sends each chat line as a text message; the server
 * sends JSON text messages `{ type: "join" | "leave", name, reason? }` and
 * `{ type: "message", name, text }`.
 */

import { readFileSync } from "node:fs";
import { Hono } from "hono";
import { upgradeWebSocket } from "tsgi/hono";
import { MemoryRoom, type Room, type Subscriber } from "./room.ts";

/**
 * Most bytes a member may have queued but not yet taken (the socket's
 * `bufferedAmount`) before it is dropped with {@link SLOW_READER_CLOSE_CODE}.
 * A broadcast is written to every member's socket; a member that does not
 * read would otherwise make the server hold every message sent since it
 * stopped. 1 MiB is hundreds of screenfuls of chat: a browser tab behind by
 * that much is not coming back. So one stuck member costs at most this plus
 * one message (and the server's close timeout bounds how long it is held).
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * The close code sent to a member dropped for falling behind: 1013 "Try
 * Again Later" (RFC 6455 §7.4.2, IANA registry), since the member did
 * nothing wrong that reconnecting would not fix. (1008 "Policy Violation"
 * would do too; 1013 tells the client that retrying makes sense.)
 */
export const SLOW_READER_CLOSE_CODE = 1013;

/** Longest chat line, in UTF-16 code units; longer ones close the socket with 1009 (Message Too Big). */
export const MAX_TEXT_LENGTH = 64 * 1024;

/** Longest member name, in code points, after cleaning. */
const MAX_NAME_LENGTH = 32;

/** Chat payloads the server sends (serialized once, then fanned out). */
export type ChatEvent =
  | { type: "join"; name: string }
  | { type: "leave"; name: string; reason?: string }
  | { type: "message"; name: string; text: string };

const INDEX_HTML = readFileSync(new URL("./index.html", import.meta.url), "utf8");

let guests = 0;

/** A display name from `?name=`: control characters removed, spaces collapsed, length capped. */
export function cleanName(raw: string | undefined): string {
  const name = [
    ...(raw ?? "")
      .replace(/\s+/g, " ") // first, so a newline or tab between words becomes a space
      .replace(/[\p{Cc}\p{Cf}]/gu, "")
      .trim(),
  ]
    .slice(0, MAX_NAME_LENGTH)
    .join("");
  return name === "" ? `guest-${++guests}` : name;
}

/** Builds the chat app around `room` (a different Room spans processes; see room.ts). */
export function createChatApp(room: Room = new MemoryRoom()): Hono {
  const announce = (event: ChatEvent) => {
    // A networked room publishes asynchronously; its failure must not be an unhandled rejection.
    Promise.resolve(room.publish(JSON.stringify(event))).catch((err: unknown) => {
      console.error("chat: publish failed", err);
    });
  };

  const app = new Hono();

  app.get("/", (c) => c.html(INDEX_HTML));

  app.get(
    "/ws",
    upgradeWebSocket((c) => {
      const name = cleanName(c.req.query("name"));
      let member: Subscriber | null = null;

      /** Takes the member out of the room and tells the others, once. */
      const leave = (reason?: string) => {
        if (member === null) return;
        room.unsubscribe(member);
        member = null;
        const event: ChatEvent =
          reason === undefined ? { type: "leave", name } : { type: "leave", name, reason };
        // Announced after the current broadcast has reached everyone, so no
        // member sees the leave before a message sent earlier.
        queueMicrotask(() => announce(event));
      };

      return {
        onOpen(_event, ws) {
          member = {
            deliver(payload) {
              // Checked before sending, so the backlog never exceeds the limit by more than one message.
              if ((ws.raw?.bufferedAmount ?? 0) > MAX_BUFFERED_BYTES) {
                leave("too slow");
                ws.close(SLOW_READER_CLOSE_CODE, "too far behind; reconnect");
                return;
              }
              ws.send(payload);
            },
          };
          room.subscribe(member);
          announce({ type: "join", name });
        },
        onMessage(event, ws) {
          // A dropped member's socket is still closing and may have more to say: it is no longer heard.
          if (member === null) return;
          if (typeof event.data !== "string") {
            leave("sent binary data");
            ws.close(1003, "text messages only"); // RFC 6455 §7.4.1: a data type it cannot accept
            return;
          }
          if (event.data.length > MAX_TEXT_LENGTH) {
            leave("message too long");
            ws.close(1009, "message too long");
            return;
          }
          announce({ type: "message", name, text: event.data });
        },
        onClose() {
          leave();
        },
      };
    }),
  );

  return app;
}

/**
 * The room of the default export: Redis pub/sub when `REDIS_URL` is set, so
 * any number of instances (processes, `--workers`, machines) share it; else
 * a room in this process. The Redis client is imported only when used.
 */
async function defaultRoom(): Promise<Room> {
  const url = process.env.REDIS_URL;
  if (url === undefined || url === "") return new MemoryRoom();
  const { RedisRoom } = await import("./redis-room.ts");
  return await RedisRoom.connect(url);
}

export default createChatApp(await defaultRoom());
