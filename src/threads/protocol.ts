/**
 * The messages between the main thread and a `--threads` worker thread, and
 * the layout of the small shared array each thread has for flow control.
 * Bodies travel as ArrayBuffers in the transfer list: ownership moves, bytes
 * are not copied.
 */

import type { RequestHead } from "../http1/events.ts";
import type { ConnectionInfo } from "../server/connection-info.ts";

/** What a thread is started with (`workerData`). */
export interface ThreadData {
  /** MODULE[:ATTR], as on the command line. */
  target: string;
  /** The requested interface; anything but "wsgi" or "auto" is refused. */
  interface: string;
  logLevel: string;
  /** `wsgi.multiprocess`: true under a supervisor with more than one worker. */
  multiprocess: boolean;
  /** The thread's flow-control array (see {@link Slot}). */
  shared: SharedArrayBuffer;
}

/** Indexes into a thread's shared Int32Array. */
export const Slot = {
  /** Response bytes posted by the thread and not yet flushed to the socket. */
  UNACKED: 0,
  /** Id of a request whose client went away; the thread stops producing its body. */
  CANCELLED: 1,
} as const;
export const SHARED_BYTES = 2 * Int32Array.BYTES_PER_ELEMENT;

/**
 * Response bytes a thread may have in flight before it waits for the socket.
 * Large enough that a fast client never makes the thread wait, small enough
 * that a slow one holds at most this much memory per thread (the same role
 * as the server's 64 KiB read-side `maxBufferedBytes`, a little larger for writes).
 */
export const WINDOW_BYTES = 256 * 1024;

/** An error as it crosses the thread boundary. */
export interface ErrorInfo {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** Main thread to worker thread. */
export interface RequestMessage {
  type: "request";
  id: number;
  head: RequestHead;
  info: ConnectionInfo;
  /** The whole body, transferred. */
  body: ArrayBuffer;
  trailers: string[];
}

/** Worker thread to main thread. */
export type ThreadMessage =
  | { type: "ready"; interface: string }
  | { type: "boot-error"; error: ErrorInfo }
  /** The response head; with `body` the whole response. */
  | { type: "head"; id: number; status: number; reason?: string; headers: string[]; body?: ArrayBuffer }
  | { type: "chunk"; id: number; data: ArrayBuffer }
  | { type: "end"; id: number }
  | { type: "error"; id: number; error: ErrorInfo }
  /** The thread is free again (always the last message of a request). */
  | { type: "done"; id: number };

/** A plain copy of an error that survives structured cloning with its code. */
export function errorInfo(err: unknown): ErrorInfo {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const info: ErrorInfo = { name: err.name, message: err.message };
  if (err.stack !== undefined) info.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") info.code = code;
  return info;
}

/** Rebuilds an error sent by a thread, keeping its name, code and stack for the log. */
export function rebuildError(info: ErrorInfo): Error {
  const err = new Error(info.message) as Error & { code?: string };
  err.name = info.name;
  if (info.stack !== undefined) err.stack = info.stack;
  if (info.code !== undefined) err.code = info.code;
  return err;
}

/** A buffer the sender owns whole, so it can be transferred: one copy of `bytes`. */
export function ownedCopy(bytes: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  return buffer;
}
