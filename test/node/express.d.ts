/**
 * The part of Express 5's API these tests and examples/express_app.ts use
 * (the project has no `@types/express`; Express is a devDependency for the tests only).
 */

declare module "express" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  function express(): express.Express;

  namespace express {
    interface Request extends IncomingMessage {
      params: Record<string, string>;
      query: Record<string, unknown>;
      body: unknown;
      ip: string;
      protocol: string;
      get(name: string): string | undefined;
    }
    interface Response extends ServerResponse {
      status(code: number): Response;
      json(value: unknown): Response;
      send(value: unknown): Response;
      type(type: string): Response;
      sendFile(path: string): void;
    }
    type NextFunction = (err?: unknown) => void;
    type Handler = (req: Request, res: Response, next: NextFunction) => unknown;
    type ErrorHandler = (err: never, req: Request, res: Response, next: NextFunction) => unknown;
    interface Router {
      (req: IncomingMessage, res: ServerResponse, next: NextFunction): void;
      get(path: string, ...handlers: Handler[]): Router;
      post(path: string, ...handlers: Handler[]): Router;
      use(...handlers: (Handler | ErrorHandler | Router | string)[]): Router;
    }
    interface Express {
      (req: IncomingMessage, res: ServerResponse, next?: NextFunction): void;
      handle: unknown;
      set(setting: string, value: unknown): Express;
      get(path: string, ...handlers: Handler[]): Express;
      post(path: string, ...handlers: Handler[]): Express;
      use(...handlers: (Handler | ErrorHandler | Router | string)[]): Express;
    }
    function json(options?: { limit?: string | number }): Handler;
    function urlencoded(options?: { extended?: boolean; limit?: string | number }): Handler;
    function static(root: string, options?: Record<string, unknown>): Handler;
    function Router(): Router;
  }

  export = express;
}
