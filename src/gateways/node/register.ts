/**
 * `tsgi/node/register`: `node --import tsgi/node/register app.js` runs any
 * program's `http.createServer` (and `https.createServer`) servers on
 * tsgi's engine (its parser, limits, timeouts, keep-alive), without the
 * tsgi CLI. The program still binds its own address; see
 * docs/interfaces/node.md ("The preload").
 */

import { useTsgiServers } from "./install.ts";

useTsgiServers();
