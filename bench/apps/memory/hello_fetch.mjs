// bench:memory app: the Fetch hello world as plain JavaScript (no TypeScript loader involved).
export default {
  fetch() {
    return new Response("Hello, World!", { headers: { "Content-Type": "text/plain" } });
  },
};
