/**
 * The four request-target forms (RFC 9112 §3.2): origin-form, absolute-form,
 * authority-form and asterisk-form, each accepted only with the method it
 * belongs to. The bytes were already checked by the request-line grammar.
 */

import { COLON, HOST_CHAR } from "./chars.ts";
import { fail } from "./errors.ts";

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** The four request-target forms of RFC 9112 §3.2, each only with the method it belongs to. */
export function checkTargetForm(method: string, target: string): void {
  const first = target.charCodeAt(0);
  if (method === "CONNECT") {
    // authority-form: uri-host ":" port, nothing else.
    const colon = target.lastIndexOf(":");
    if (colon <= 0 || colon === target.length - 1 || !/^[0-9]+$/.test(target.slice(colon + 1))) {
      fail("CONNECT needs an authority-form target", "TSGI_ERR_BAD_TARGET");
    }
    checkAuthority(target.slice(0, colon));
    return;
  }
  if (first === 0x2f /* / */) return; // origin-form
  if (target === "*") {
    if (method !== "OPTIONS") fail("asterisk-form target is only for OPTIONS", "TSGI_ERR_BAD_TARGET");
    return;
  }
  if (SCHEME_RE.test(target)) {
    // absolute-form. An origin server is sent it only for http and https URIs
    // (RFC 9112 §3.2.2, RFC 9110 §4.2); any other scheme is 400, and so is
    // "example.com:443", which RFC 3986 would read as the scheme "example.com".
    const colon = target.indexOf(":");
    const scheme = target.slice(0, colon).toLowerCase();
    if (scheme !== "http" && scheme !== "https")
      fail("absolute-form is only for http and https URIs", "TSGI_ERR_BAD_TARGET");
    // http-URI = "http" "://" authority path-abempty [ "?" query ] (RFC 9110 §4.2.1).
    const rest = target.slice(colon + 1);
    if (!rest.startsWith("//")) fail("http URI without an authority", "TSGI_ERR_BAD_TARGET");
    let end = rest.length;
    for (const c of "/?#") {
      const k = rest.indexOf(c, 2);
      if (k !== -1 && k < end) end = k;
    }
    const authority = rest.slice(2, end);
    const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
    // RFC 9110 §4.2.1/§4.2.2: an http(s) URI with an empty host is invalid and MUST be rejected.
    if (hostPort === "" || hostPort.startsWith(":"))
      fail("http URI with an empty host", "TSGI_ERR_BAD_TARGET");
    checkAuthority(hostPort);
    return;
  }
  fail("request target is in none of the four forms", "TSGI_ERR_BAD_TARGET");
}

/** host [":" port] where host may be an IP literal in brackets (RFC 3986 §3.2.2). */
function checkAuthority(authority: string): void {
  let host = authority;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close === -1) fail("unterminated IP literal in target", "TSGI_ERR_BAD_TARGET");
    const after = host.slice(close + 1);
    if (after !== "" && !/^:[0-9]*$/.test(after)) fail("invalid authority in target", "TSGI_ERR_BAD_TARGET");
    host = host.slice(1, close);
    if (!/^[0-9A-Fa-f:.]+$|^v[0-9A-Fa-f]+\..+$/.test(host))
      fail("invalid IP literal in target", "TSGI_ERR_BAD_TARGET");
    return;
  }
  const colon = host.indexOf(":");
  if (colon !== -1) {
    if (!/^[0-9]*$/.test(host.slice(colon + 1))) fail("invalid port in target", "TSGI_ERR_BAD_TARGET");
    host = host.slice(0, colon);
  }
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (HOST_CHAR[c] !== 1 || c === 0x5b || c === 0x5d || c === COLON)
      fail("invalid host in target", "TSGI_ERR_BAD_TARGET");
  }
}
