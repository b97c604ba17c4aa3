/**
 * Request metrics for `--metrics`: counters a connection bumps with plain
 * number increments (no string, no allocation per request), turned into a
 * JSON snapshot that workers send their supervisor and that sums across
 * processes, and rendered in Prometheus' text exposition format 0.0.4 only
 * when scraped.
 */

import type { Socket } from "node:net";

/**
 * Upper bounds (seconds) of the latency histogram's buckets: Prometheus'
 * client defaults (5 ms to 10 s) with 1 ms and 2.5 ms added below, since a
 * server answers many requests faster than the smallest default bucket.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Status codes a response can carry (the serializer allows 100–999). */
const STATUS_SLOTS = 1000;

/** A point-in-time copy of one process's (or several summed) metrics; plain JSON for IPC. */
export interface MetricsSnapshot {
  /** Responses by status code, e.g. `{ "200": 12, "404": 1 }`. */
  requests: Record<string, number>;
  /** Requests per duration bucket, not cumulative; the last slot is past the largest bound. */
  buckets: number[];
  durationSum: number;
  durationCount: number;
  /** Responses cut short (also counted in `requests` by the status sent, 499 if none). */
  incomplete: number;
  bytesSent: number;
  bytesReceived: number;
  connections: number;
  websockets: number;
  cpuSeconds: number;
  residentBytes: number;
  /** Processes summed into this snapshot. */
  processes: number;
}

/**
 * What one server counts. Requests are counted when their response is
 * complete or cut short; bytes are read from the sockets (TCP payload, heads and WebSocket
 * frames included) when a connection closes, and from the open ones when a
 * snapshot is taken, so the request path pays nothing for them.
 */
export class RequestStats {
  private readonly byStatus = new Float64Array(STATUS_SLOTS);
  private readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  private durationSum = 0;
  private durationCount = 0;
  private incomplete = 0;
  private closedSent = 0;
  private closedReceived = 0;
  private readonly sockets = new Set<Socket>();

  /**
   * A response ended with `status` after `durationMs` (from its head being
   * parsed); `complete` false when it was cut short (timed all the same).
   */
  record(status: number, durationMs: number, complete = true): void {
    if (status < STATUS_SLOTS) this.byStatus[status]!++;
    if (!complete) this.incomplete++;
    const seconds = durationMs / 1000;
    let i = 0;
    // A linear scan over 13 bounds: cheaper than a binary search at this size.
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.durationSum += seconds;
    this.durationCount++;
  }

  /** A response the server sent itself without a complete request (400, 408, 431 ...): counted, not timed. */
  countStatus(status: number): void {
    if (status < STATUS_SLOTS) this.byStatus[status]!++;
  }

  /** Counts `socket`'s bytes, now and when it closes. */
  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.closedSent += socket.bytesWritten;
      this.closedReceived += socket.bytesRead;
    });
  }

  /** This process's metrics; `connections` and `websockets` are the server's gauges. */
  snapshot(connections: number, websockets: number): MetricsSnapshot {
    const requests: Record<string, number> = {};
    for (let status = 0; status < STATUS_SLOTS; status++) {
      const n = this.byStatus[status]!;
      if (n > 0) requests[status] = n;
    }
    let sent = this.closedSent;
    let received = this.closedReceived;
    for (const socket of this.sockets) {
      sent += socket.bytesWritten;
      received += socket.bytesRead;
    }
    const snapshot = emptySnapshot();
    Object.assign(snapshot, {
      requests,
      buckets: Array.from(this.buckets),
      durationSum: this.durationSum,
      durationCount: this.durationCount,
      incomplete: this.incomplete,
      bytesSent: sent,
      bytesReceived: received,
      connections,
      websockets,
    });
    return addProcessMetrics(snapshot);
  }
}

/** A snapshot of nothing: the identity of {@link addSnapshots}. */
export function emptySnapshot(): MetricsSnapshot {
  return {
    requests: {},
    buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
    durationSum: 0,
    durationCount: 0,
    incomplete: 0,
    bytesSent: 0,
    bytesReceived: 0,
    connections: 0,
    websockets: 0,
    cpuSeconds: 0,
    residentBytes: 0,
    processes: 0,
  };
}

/** Adds this process's CPU time and resident memory (a supervisor counts itself this way). */
export function addProcessMetrics(snapshot: MetricsSnapshot): MetricsSnapshot {
  const cpu = process.cpuUsage();
  snapshot.cpuSeconds += (cpu.user + cpu.system) / 1e6;
  snapshot.residentBytes += process.memoryUsage.rss();
  snapshot.processes += 1;
  return snapshot;
}

/** Sums two snapshots field by field (workers into the supervisor's total). */
export function addSnapshots(a: MetricsSnapshot, b: MetricsSnapshot): MetricsSnapshot {
  const requests = { ...a.requests };
  for (const [status, n] of Object.entries(b.requests)) requests[status] = (requests[status] ?? 0) + n;
  return {
    requests,
    buckets: a.buckets.map((n, i) => n + (b.buckets[i] ?? 0)),
    durationSum: a.durationSum + b.durationSum,
    durationCount: a.durationCount + b.durationCount,
    incomplete: a.incomplete + b.incomplete,
    bytesSent: a.bytesSent + b.bytesSent,
    bytesReceived: a.bytesReceived + b.bytesReceived,
    connections: a.connections + b.connections,
    websockets: a.websockets + b.websockets,
    cpuSeconds: a.cpuSeconds + b.cpuSeconds,
    residentBytes: a.residentBytes + b.residentBytes,
    processes: a.processes + b.processes,
  };
}

/**
 * Keeps only the counters of a snapshot (gauges zeroed): what a worker that
 * exited leaves behind, so totals do not drop when a worker is replaced.
 */
export function countersOnly(s: MetricsSnapshot): MetricsSnapshot {
  return { ...s, connections: 0, websockets: 0, residentBytes: 0, processes: 0 };
}

/** The `Content-Type` of {@link renderPrometheus}' output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Renders `s` in the Prometheus text format (version 0.0.4).
 *
 * @example
 * const text = renderPrometheus(stats.snapshot(server.connectionCount, server.webSocketCount));
 * // # TYPE tsgi_requests_total counter
 * // tsgi_requests_total{status="200"} 12
 */
export function renderPrometheus(s: MetricsSnapshot): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, lines: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  };
  const statuses = Object.keys(s.requests).sort((a, b) => Number(a) - Number(b));
  metric(
    "tsgi_requests_total",
    "counter",
    "HTTP responses sent, by status code (101 for WebSocket upgrades; 499 when the client left before any head).",
    statuses.map((status) => `tsgi_requests_total{status="${status}"} ${s.requests[status]}`),
  );
  let cumulative = 0;
  const buckets = DURATION_BUCKETS.map((le, i) => {
    cumulative += s.buckets[i] ?? 0;
    return `tsgi_request_duration_seconds_bucket{le="${le}"} ${cumulative}`;
  });
  metric(
    "tsgi_request_duration_seconds",
    "histogram",
    "Time from a request head being parsed to its response being complete.",
    [
      ...buckets,
      `tsgi_request_duration_seconds_bucket{le="+Inf"} ${s.durationCount}`,
      `tsgi_request_duration_seconds_sum ${s.durationSum}`,
      `tsgi_request_duration_seconds_count ${s.durationCount}`,
    ],
  );
  metric(
    "tsgi_requests_incomplete_total",
    "counter",
    "HTTP responses cut short (the client left, the app failed after the head, a send timeout); also in tsgi_requests_total by the status sent, 499 if none.",
    [`tsgi_requests_incomplete_total ${s.incomplete}`],
  );
  metric("tsgi_open_connections", "gauge", "Open client connections (HTTP and WebSocket).", [
    `tsgi_open_connections ${s.connections}`,
  ]);
  metric("tsgi_websockets_open", "gauge", "Open WebSocket connections.", [
    `tsgi_websockets_open ${s.websockets}`,
  ]);
  metric("tsgi_bytes_sent_total", "counter", "Bytes written to client sockets.", [
    `tsgi_bytes_sent_total ${s.bytesSent}`,
  ]);
  metric("tsgi_bytes_received_total", "counter", "Bytes read from client sockets.", [
    `tsgi_bytes_received_total ${s.bytesReceived}`,
  ]);
  metric("tsgi_processes", "gauge", "Server processes summed into these metrics.", [
    `tsgi_processes ${s.processes}`,
  ]);
  metric("process_cpu_seconds_total", "counter", "User and system CPU time of the server's processes.", [
    `process_cpu_seconds_total ${s.cpuSeconds}`,
  ]);
  metric("process_resident_memory_bytes", "gauge", "Resident memory of the server's processes.", [
    `process_resident_memory_bytes ${s.residentBytes}`,
  ]);
  return `${out.join("\n")}\n`;
}
