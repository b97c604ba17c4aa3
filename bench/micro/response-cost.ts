/**
 * What building and reading a Response costs: undici's native Response
 * against tsgi's LightResponse, for a 13-byte body. Backs the figures in
 * docs/interfaces/fetch.md.
 * Run: node --import tsx bench/micro/response-cost.ts [N]
 */

import { LightResponse, NativeResponse as nativeResponse } from "../../src/gateways/fetch/light-response.ts";

const NativeResponse = nativeResponse();

const N = Number(process.argv[2] ?? 100_000);
const init = { headers: { "Content-Type": "text/plain" } };

async function measure(name: string, run: () => unknown): Promise<void> {
  for (let i = 0; i < 1000; i++) await run(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await run();
  console.log(`${name}: ${(Number(process.hrtime.bigint() - t0) / N / 1000).toFixed(2)} µs`);
}

await measure("native: construct", () => new NativeResponse("Hello, World!", init));
await measure("native: construct and read the body", async () => {
  const reader = new NativeResponse("Hello, World!", init).body!.getReader();
  while (!(await reader.read()).done);
});
await measure("light: construct", () => new LightResponse("Hello, World!", init));
await measure("light: construct and take the parts", () =>
  LightResponse.parts(new LightResponse("Hello, World!", init)),
);
