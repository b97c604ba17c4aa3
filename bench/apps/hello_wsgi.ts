/** Benchmark app: the smallest useful WSGI-style response. */
import type { Environ, StartResponse, WSGIResult } from "tsgi";

const BODY = Buffer.from("Hello, World!");

export default function app(environ: Environ, startResponse: StartResponse): WSGIResult {
  if (environ.REQUEST_METHOD === "POST") {
    const size = environ["wsgi.input"].read().length;
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`received ${size} bytes`];
  }
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [BODY];
}
