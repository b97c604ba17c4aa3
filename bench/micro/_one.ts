import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
const root = process.argv[2]!;
const { RequestParser } = await import(pathToFileURL(resolve(root, "src/http1/index.ts")).href);
const req = Buffer.from(
  "GET /plaintext?x=1 HTTP/1.1\r\nHost: localhost:8000\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
    "Connection: keep-alive\r\nCookie: session=abcdef0123456789; theme=dark\r\n\r\n");
const p = new RequestParser();
for (let r = 0; r < 4; r++) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < 100000; i++) { p.receiveData(req); p.nextEvent(); p.nextEvent(); p.startNextCycle(); }
  const d = process.cpuUsage(t0); console.log(root, ((d.user + d.system) * 1000 / 100000).toFixed(0));
}
