"""Response headers every page gets: no caching of patient data, no framing, a strict CSP, and
HSTS when the request came over HTTPS."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# htmx is served from /static; nothing loads from elsewhere. Inline styles are allowed because
# htmx adds its indicator style at load time.
PAGE_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)
# JSON answers load nothing and are never framed.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The API docs page runs Swagger UI's own inline start-up script (from our static files, see
# web.app), so it gets no script policy; it still cannot be framed.
API_DOCS = "/api/docs"
DOCS_POLICY = "frame-ancestors 'none'"
# A year, subdomains included (RFC 6797). Sent only over HTTPS: a browser ignores it over plain
# HTTP, and a server run on plain HTTP for a test must not pin itself. Behind a proxy that ends
# TLS, uvicorn's --proxy-headers sets the scheme from X-Forwarded-Proto.
STRICT_TRANSPORT = "max-age=31536000; includeSubDomains"


def _policy_for(path: str) -> str:
    if path == API_DOCS:
        return DOCS_POLICY
    if path == "/api" or path.startswith("/api/"):
        return API_POLICY
    return PAGE_POLICY


def add_security_headers(headers: MutableHeaders, path: str, over_https: bool) -> None:
    """Every answer's headers; also called by the 500 handler, which Starlette runs outside
    the app's own middleware."""
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if not path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    if over_https:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT)
    headers.setdefault("Content-Security-Policy", _policy_for(path))


class SecurityHeaders:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware on every request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        over_https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), path, over_https)
            await send(message)

        await self.app(scope, receive, send_with_headers)
