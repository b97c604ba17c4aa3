/**
 * A small itty-router app on tsgi's Fetch gateway. itty-router's AutoRouter
 * turns whatever a handler returns into a Response (objects become JSON,
 * strings text) and answers unmatched routes with a 404; tsgi calls its
 * `fetch(request, info)` for every request, and the extra `info` argument
 * reaches each handler after the request.
 *
 *   tsgi --port 8000 examples/itty_app.ts
 *   curl -i http://127.0.0.1:8000/hello/Ada
 *   curl -i -H 'Content-Type: application/json' -d '{"a":1}' http://127.0.0.1:8000/items
 */

import { AutoRouter, error, type IRequest, json, text } from "itty-router";

const router = AutoRouter();

router
  .get("/", () => text("Hello from itty-router on tsgi!\n"))
  .get("/hello/:name", ({ params }) => text(`Hello, ${params.name}!\n`))
  .get("/json", ({ query }) => json({ list: [1, 2, 3], query }))
  .post("/items", async (request: IRequest) => {
    const item = await request.json().catch(() => undefined);
    if (item === undefined) return error(400, "the body is not valid JSON");
    return json({ created: item }, { status: 201 });
  });

/** The app: an object with a `fetch` method, the shape tsgi's Fetch gateway serves. */
export default { fetch: router.fetch };
