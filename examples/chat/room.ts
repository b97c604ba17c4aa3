/**
 * The chat room's fan-out, behind a small interface so the in-memory room
 * here can later be swapped for one that spans processes (Redis pub/sub:
 * `publish` becomes PUBLISH on a channel, and one SUBSCRIBE per process
 * calls `deliver` on that process's local subscribers).
 *
 * The room moves already-serialized strings: a message is encoded once, not
 * once per member, and a pub/sub room would carry the same strings.
 */

/** One local member of the room: whatever can take a serialized message. */
export interface Subscriber {
  /** Hands one message to this member; must not throw (a member that cannot keep up unsubscribes itself). */
  deliver(payload: string): void;
}

/** A chat room: who is listening and how a message reaches all of them. */
export interface Room {
  /** Starts delivering every published message to `subscriber`, including its own. */
  subscribe(subscriber: Subscriber): void;
  /** Stops delivering to `subscriber` (nothing happens if it was not subscribed). */
  unsubscribe(subscriber: Subscriber): void;
  /** Sends `payload` to every subscriber. A networked room resolves once the message is handed off. */
  publish(payload: string): void | Promise<void>;
}

/** A room living in this process: a set of subscribers, delivered to in order. */
export class MemoryRoom implements Room {
  readonly #subscribers = new Set<Subscriber>();

  get size(): number {
    return this.#subscribers.size;
  }

  subscribe(subscriber: Subscriber): void {
    this.#subscribers.add(subscriber);
  }

  unsubscribe(subscriber: Subscriber): void {
    this.#subscribers.delete(subscriber);
  }

  publish(payload: string): void {
    // A delivery may unsubscribe its own member (a slow reader is dropped):
    // a Set skips deleted entries and visits the rest, so no copy is needed.
    for (const subscriber of this.#subscribers) subscriber.deliver(payload);
  }
}
