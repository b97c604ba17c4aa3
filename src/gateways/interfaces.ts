/**
 * The names of the gateway interfaces, on their own so that the command
 * line can list and check them without loading any gateway.
 */

/** The interfaces an app can speak. */
export const INTERFACES = ["auto", "wsgi", "fetch", "asgi", "node"] as const;
export type Interface = (typeof INTERFACES)[number];
