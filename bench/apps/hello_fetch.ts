/** Benchmark app: the smallest useful Fetch-interface app, a plain object with `fetch`. */

export default {
  fetch(): Response {
    return new Response("Hello, World!", { headers: { "Content-Type": "text/plain" } });
  },
};
