// bench:memory app: the WSGI-style hello world as plain JavaScript.
const BODY = Buffer.from("Hello, World!");

export default function app(_environ, startResponse) {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [BODY];
}
