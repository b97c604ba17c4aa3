// bench:memory app: the node:http-style hello world, served with --interface node.
const BODY = Buffer.from("Hello, World!");

export default function app(_req, res) {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": BODY.length });
  res.end(BODY);
}
