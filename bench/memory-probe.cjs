// bench:memory's probe, preloaded (`node --expose-gc -r`) into a server for the leak check only:
// on SIGUSR2 it collects garbage until the heap stops shrinking and prints one
// "MEMPROBE {json}" line on stderr (with MEMORY_SNAPSHOT_DIR set, it also writes a heap snapshot there).
"use strict";
const v8 = require("node:v8");
const path = require("node:path");
let n = 0;
process.on("SIGUSR2", () => {
  let used = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    globalThis.gc();
    const now = process.memoryUsage().heapUsed;
    if (now >= used) break;
    used = now;
  }
  const m = process.memoryUsage();
  const dir = process.env.MEMORY_SNAPSHOT_DIR;
  if (dir) v8.writeHeapSnapshot(path.join(dir, `${process.pid}-${++n}.heapsnapshot`));
  process.stderr.write(
    `MEMPROBE ${JSON.stringify({ heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss })}\n`,
  );
});
