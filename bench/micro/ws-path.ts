/**
 * Microbenchmark of one WebSocket echo inside the server, without the
 * kernel or Node's stream machinery: a 32-byte masked text frame handed to a
 * WebSocketSession on a stand-in socket, through the Fetch gateway's
 * ServerWebSocket and an `onmessage` that sends it back. Run:
 *   node --import tsx bench/micro/ws-path.ts [N]
 * Prints nanoseconds per echoed message for the session alone (a bare
 * handler) and for the whole Fetch path.
 */

import type { Socket } from "node:net";
import { ServerWebSocket } from "../../src/gateways/fetch/websocket.ts";
import { DEFAULT_OPTIONS } from "../../src/server/options.ts";
import { type WebSocketHost, WebSocketSession } from "../../src/server/websocket.ts";
import { WebSocketCore } from "../../src/websocket/core.ts";
import { StandInSocket } from "./stand-in-socket.ts";

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = 5;

/** A client text frame of `size` bytes: FIN, opcode 1, masked. */
function clientFrame(size: number): Buffer {
  const client = new WebSocketCore({ client: true });
  const [frame] = client.sendText("x".repeat(size));
  return Buffer.from(frame!);
}

const host: WebSocketHost = {
  options: { ...DEFAULT_OPTIONS, wsPingInterval: 0 },
  logger: console as unknown as WebSocketHost["logger"],
  tracer: null,
  sessionClosed() {},
};
const info = {
  remoteAddress: "127.0.0.1",
  remotePort: 1,
  localAddress: "127.0.0.1",
  localPort: 2,
  tls: false,
};

function open(): { socket: StandInSocket; session: WebSocketSession } {
  const socket = new StandInSocket();
  const session = new WebSocketSession(
    socket as unknown as Socket,
    new WebSocketCore(),
    host,
    info,
    { protocol: "", extensions: "" },
    new Uint8Array(0),
  );
  return { socket, session };
}

function run(name: string, setup: (session: WebSocketSession) => void): void {
  const frame = clientFrame(32);
  const { socket, session } = open();
  setup(session);
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    // A fresh copy per message: the core unmasks the buffer it is given in place.
    for (let i = 0; i < N; i++) socket.emit("data", Buffer.from(frame));
    const ns = Number(process.hrtime.bigint() - t0) / N;
    const cpu = process.cpuUsage(cpu0);
    // CPU time too: on a shared machine it is the steadier figure.
    const cpuNs = ((cpu.user + cpu.system) * 1000) / N;
    console.log(
      `${name.padEnd(8)} ${ns.toFixed(0).padStart(5)} ns/message, ${cpuNs.toFixed(0).padStart(5)} ns CPU/message`,
    );
  }
  if (socket.bytes !== ROUNDS * N * 34) throw new Error(`echoed ${socket.bytes} bytes`);
}

run("session", (session) => {
  session.setHandler({
    message: (data) => session.send(data instanceof Uint8Array ? data : data.data),
    closed() {},
  });
});
run("fetch", (session) => {
  const ws = new ServerWebSocket("ws://localhost/");
  ws.onmessage = (event) => ws.send(event.data as string);
  ws.attach(session);
});
