/**
 * A socket the app took over (node-style `'upgrade'`, `'connect'`): tsgi no
 * longer speaks on it, but graceful shutdown still waits for it, as
 * node:http's `server.close()` waits for upgraded sockets, and destroys it
 * when the graceful timeout runs out.
 */

import type { Socket } from "node:net";
import type { Expirable } from "./clock.ts";

/** One detached socket, tracked by the server until it closes. */
export class DetachedSocket implements Expirable {
  /** No tsgi timeout applies: the protocol on the socket is the app's. */
  deadline = 0;

  constructor(
    readonly socket: Socket,
    onClosed: (detached: DetachedSocket) => void,
  ) {
    if (socket.destroyed) queueMicrotask(() => onClosed(this));
    else socket.once("close", () => onClosed(this));
  }

  expire(): void {}

  /** Graceful shutdown began: the app decides when its protocol ends (its own close frames, say). */
  shutdown(): void {}

  /** The graceful timeout ran out. */
  destroy(): void {
    this.socket.destroy();
  }
}
