/**
 * A chat room spanning processes and machines through Redis pub/sub: every
 * instance of the chat publishes each (already serialized) event on one
 * channel, and one subscription per instance hands what arrives to that
 * instance's local members. Members connected to different instances behind
 * a load balancer thus share one room.
 *
 * Pub/sub is fire-and-forget: an instance that is disconnected from Redis
 * misses what was said meanwhile, as a chat tab that was closed would. A
 * room that must replay history would use a Redis stream instead.
 *
 * Client: `@redis/client`, the core of the official node-redis client
 * (maintained by Redis; no dependencies of its own). It is a dev dependency:
 * only this example uses it, never tsgi itself.
 */

import { createClient } from "@redis/client";
import { MemoryRoom, type Room, type Subscriber } from "./room.ts";

/** The pub/sub channel, so several chat rooms can share one Redis. */
export const DEFAULT_CHANNEL = "tsgi:chat";

/** A {@link Room} whose messages travel through a Redis channel. */
export class RedisRoom implements Room {
  /** This instance's members; Redis delivers every published message here, ours included. */
  readonly #local = new MemoryRoom();
  readonly #publisher: ReturnType<typeof createClient>;
  readonly #subscriber: ReturnType<typeof createClient>;

  private constructor(
    url: string,
    readonly channel: string,
  ) {
    this.#publisher = createClient({ url });
    // A connection in subscriber mode can run no other command: a second one publishes.
    this.#subscriber = this.#publisher.duplicate();
    for (const client of [this.#publisher, this.#subscriber]) {
      // Reconnection is the client's job; an error event must not crash the app.
      client.on("error", (err: Error) => console.error(`chat: redis: ${err.message}`));
    }
  }

  /**
   * Connects to the Redis at `url` (e.g. `redis://127.0.0.1:6379`) and
   * subscribes; resolves once messages published from now on will arrive.
   *
   * @example
   * const room = await RedisRoom.connect(process.env.REDIS_URL!);
   * const app = createChatApp(room);
   */
  static async connect(url: string, channel = DEFAULT_CHANNEL): Promise<RedisRoom> {
    const room = new RedisRoom(url, channel);
    await Promise.all([room.#publisher.connect(), room.#subscriber.connect()]);
    await room.#subscriber.subscribe(channel, (message: string) => room.#local.publish(message));
    return room;
  }

  /** Members connected to this instance. */
  get size(): number {
    return this.#local.size;
  }

  subscribe(subscriber: Subscriber): void {
    this.#local.subscribe(subscriber);
  }

  unsubscribe(subscriber: Subscriber): void {
    this.#local.unsubscribe(subscriber);
  }

  /** PUBLISH: every instance, this one included, delivers it to its members when Redis sends it back. */
  async publish(payload: string): Promise<void> {
    await this.#publisher.publish(this.channel, payload);
  }

  /** Closes both connections. */
  async close(): Promise<void> {
    await Promise.allSettled([this.#subscriber.close(), this.#publisher.close()]);
  }
}
