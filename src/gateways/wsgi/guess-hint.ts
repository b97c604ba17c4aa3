/**
 * A hint for an app `--interface auto` may have guessed wrong: a function of
 * one or two parameters is taken for WSGI-style, but a node:http-style
 * `(req, res)` handler or a Fetch handler `(request)` looks the same.
 */

import type { Logger } from "../../server/log.ts";
import type { WSGIApp } from "./types.ts";

/**
 * `app`, which on its first TypeError (`res.setHeader is not a function`)
 * also logs how to choose the interface; the error itself goes on as usual.
 */
export function withGuessHint(app: WSGIApp, logger: Logger): WSGIApp {
  let hinted = false;
  return (environ, startResponse) => {
    try {
      return app(environ, startResponse);
    } catch (err) {
      if (!hinted && err instanceof TypeError) {
        hinted = true;
        logger.warning(
          `--interface auto took this ${app.length}-parameter function for a WSGI-style app (environ, startResponse); ` +
            "a node:http-style handler (req, res) needs --interface node, a Fetch handler (request) --interface fetch",
        );
      }
      throw err;
    }
  };
}
