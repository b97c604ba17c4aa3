/**
 * Benchmark app: the Fetch hello world answered from a promise (an async
 * handler, as most real apps are), to show that responses resolved in the
 * same event-loop turn still leave in one socket write.
 */

export default {
  async fetch(): Promise<Response> {
    return new Response("Hello, World!", { headers: { "Content-Type": "text/plain" } });
  },
};
