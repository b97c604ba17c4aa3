/**
 * The seed's demo app in TypeScript: a WSGI-style callable that answers with
 * an HTML page describing the request it received. Serve it with
 * `npm start` (or `tsgi examples/demo_app.ts`) and open http://127.0.0.1:8000/hello?x=1
 */

import type { Environ, StartResponse, WSGIResult } from "tsgi";

/** Escapes text for HTML: request data is attacker-controlled. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function row(name: string, value: string): string {
  return `<tr><th>${escapeHtml(name)}</th><td><code>${escapeHtml(value)}</code></td></tr>`;
}

/** The app: PEP 3333's `application(environ, start_response)`. */
export default function app(environ: Environ, startResponse: StartResponse): WSGIResult {
  const body = environ["wsgi.input"].read();
  const headers = Object.keys(environ)
    .filter((key) => key.startsWith("HTTP_") || key === "CONTENT_TYPE" || key === "CONTENT_LENGTH")
    .sort()
    .map((key) => row(key, String(environ[key])))
    .join("\n");

  const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>tsgi demo</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}th{text-align:left;padding-right:1rem}</style></head>
<body>
<h1>Hello from tsgi</h1>
<p>This page was produced by a WSGI-style app. The server parsed your request, built an <code>environ</code>,
called the app with it and <code>startResponse</code>, and wrote back what the app returned.</p>
<h2>Request</h2>
<table>
${row("Method", environ.REQUEST_METHOD)}
${row("Path", environ.PATH_INFO)}
${row("Query string", environ.QUERY_STRING)}
${row("Protocol", environ.SERVER_PROTOCOL)}
${row("Client", `${environ.REMOTE_ADDR}:${environ.REMOTE_PORT}`)}
${row("Body size", `${body.length} bytes`)}
</table>
<h2>Headers</h2>
<table>
${headers}
</table>
</body>
</html>
`;
  startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [page];
}
