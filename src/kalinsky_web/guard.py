"""What every request passes before a handler sees it: paths without NUL bytes, a `Host` the service answers to
(DNS rebinding), the API token when one is set; and the headers every answer carries (CSP, nosniff, no framing).

Litestar's own AllowedHostsMiddleware is not used: it compares the whole `Host` header, port included, against the
names (so `localhost:8000` is refused for `localhost`), and answers without a `detail`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import cast

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

#: Names a local service always answers to.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "*.localhost")

#: The cookie the web UI keeps the token in, for what <video>/<img> fetch (they cannot send headers).
TOKEN_COOKIE = "kalinsky_token"

#: No inline scripts or styles anywhere; media and posters may also come from blob: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)



def _route_paths(scope: Scope) -> set[str]:
    """The path template of the matched route (`/output` for the mount, whose scope's path is the rest)."""
    template = str(scope.get("path_template") or "")
    return {template} if template else set(getattr(scope.get("route_handler"), "paths", ()))


def _is_protected(paths: set[str]) -> bool:
    """The API and the renders; the UI's own static files stay open (the page asks for the token)."""
    return any(path.startswith(("/api/", "/output")) for path in paths)


def _is_media(paths: set[str]) -> bool:
    """What a page loads with <video>/<img>/<a download> or an EventSource, which cannot send headers: the cookie
    may carry the token for these GETs."""
    loaded = ("/media", "/thumbnail", "/filmstrip", "/media-access", "/api/v1/events")
    return any(path.startswith("/output") or path.endswith(loaded) for path in paths)


def host_name(host_header: str) -> str:
    """The name of a Host header without its port: `localhost:8000` → `localhost`, `[::1]:80` → `[::1]`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(name: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


async def _answer(send: Send, status: int, detail: str, extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *SECURITY_HEADERS, *extra_headers]
    await send(cast(Message, {"type": "http.response.start", "status": status, "headers": headers}))
    await send(cast(Message, {"type": "http.response.body", "body": body}))


class RequestGuard(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, allowed_hosts: Iterable[str], api_token: str | None) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self.api_token = api_token

    def _token_ok(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        assert self.api_token is not None
        expected = self.api_token.encode()
        authorization = headers.get(b"authorization", b"")
        scheme, _, given = authorization.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), expected):
            return True
        if scope.get("method") in {"GET", "HEAD"} and _is_media(_route_paths(scope)):
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
            except Exception:  # a malformed cookie header is no token
                return False
            morsel = cookie.get(TOKEN_COOKIE)
            return morsel is not None and hmac.compare_digest(morsel.value.encode(), expected)
        return False

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        path: str = scope["path"]
        headers = dict(scope["headers"])  # lower-case names; repeated ones: the last wins
        if "\x00" in path:
            await _answer(send, 404, "Not found: the path holds a NUL byte")
            return
        name = host_name(headers.get(b"host", b"").decode("latin-1"))
        if not name or not host_allowed(name, self.allowed_hosts):
            await _answer(
                send, 400, f"Host {name or '(none)'!r} is not one this service answers to: add it to "
                "KALINSKY_ALLOWED_HOSTS"
            )
            return
        # CORS preflights never carry credentials; what they precede does
        needs_token = self.api_token and scope.get("method") != "OPTIONS" and _is_protected(_route_paths(scope))
        if needs_token and not self._token_ok(scope, headers):
            await _answer(
                send, 401, "This service needs its API token: send Authorization: Bearer <KALINSKY_API_TOKEN>",
                ((b"www-authenticate", b'Bearer realm="kalinsky"'),),
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [header for header in SECURITY_HEADERS if header[0] not in present]
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await next_app(scope, receive, send_with_headers)
