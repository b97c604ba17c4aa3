/**
 * The WebSocket session machinery, loaded on first need: the frame engine
 * (websocket/core.ts), permessage-deflate (which brings `node:zlib`), UTF-8
 * validation, the negotiation and the session. About 80 KB of code that a
 * server whose clients never ask for a WebSocket would otherwise compile and
 * keep at startup (docs/performance.md, "Memory").
 *
 * An HTTP connection that parses an upgrade request while the machinery is
 * not loaded yet holds that request, loads it, then calls the app: so
 * `acceptWebSocket` stays synchronous for the gateways. Loaded modules are
 * process-wide, like Node's own lazy built-ins; this keeps no server state.
 */

import type { WebSocketSession } from "./websocket.ts";
import type { negotiateUpgrade } from "./websocket-negotiate.ts";

/** What an accepted upgrade needs. */
export interface WebSocketStack {
  readonly negotiateUpgrade: typeof negotiateUpgrade;
  readonly WebSocketSession: typeof WebSocketSession;
}

let loaded: WebSocketStack | null = null;
let loading: Promise<WebSocketStack> | null = null;

/** The machinery if it is loaded, else null (then call {@link loadWebSocketStack}). */
export function webSocketStack(): WebSocketStack | null {
  return loaded;
}

/** Loads the machinery once; later calls share the first load. */
export function loadWebSocketStack(): Promise<WebSocketStack> {
  loading ??= Promise.all([import("./websocket-negotiate.ts"), import("./websocket.ts")]).then(
    ([negotiate, session]) => {
      loaded = { negotiateUpgrade: negotiate.negotiateUpgrade, WebSocketSession: session.WebSocketSession };
      return loaded;
    },
    (err: unknown) => {
      // A failed load (a broken install) is tried again by the next upgrade request.
      loading = null;
      throw err;
    },
  );
  return loading;
}
