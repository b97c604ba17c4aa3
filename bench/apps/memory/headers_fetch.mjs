// bench:memory app: a Fetch app that reads the URL, a header and builds a Headers object per request.
export default {
  fetch(request) {
    const agent = request.headers.get("user-agent") ?? "";
    const path = new URL(request.url).pathname;
    return new Response(`${path} ${agent.length}`, {
      headers: new Headers({ "Content-Type": "text/plain" }),
    });
  },
};
