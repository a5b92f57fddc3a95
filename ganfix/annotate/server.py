"""Local HTTP server for the labelling page (stdlib only).

Safety: bound to 127.0.0.1; a random token is required on every request (`?token=` or the
`X-Ganfix-Token` header; compared in constant time); the Host header must name the loopback
address (no DNS rebinding); files are served only from the page's own static folder and the
generated sheet folder, after resolving symlinks and checking containment.
"""
from __future__ import annotations

import json
import mimetypes
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import GanfixError
from .session import LabelSession

STATIC = Path(__file__).with_name("static")
MAX_BODY = 16 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def safe_file(root: Path, rel: str) -> Path | None:
    """The file `rel` inside `root`, or None if the name tries to leave it (.., absolute, symlink out)."""
    if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/") or any(p in ("..", ".") for p in rel.split("/")):
        return None
    root = root.resolve()
    try:
        path = (root / rel).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return path if path.is_file() and path.is_relative_to(root) else None


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    server_version = "ganfix"
    sys_version = ""

    def log_message(self, *args) -> None:  # quiet: request lines would print the token
        pass

    # -- responses ------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # -- checks ---------------------------------------------------------------------------------
    def _authorised(self, query: dict) -> bool:
        given = self.headers.get("X-Ganfix-Token") or (query.get("token") or [""])[0]
        return secrets.compare_digest(given.encode(), self.server.token.encode())

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        port = self.server.server_address[1]
        return host in {f"127.0.0.1:{port}", f"localhost:{port}"}

    def _route(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if not self._host_ok() or not self._authorised(query):
            self._error(HTTPStatus.FORBIDDEN, "forbidden: missing or wrong token")
            return None
        return parts.path

    # -- methods --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self._route()
        if path is None:
            return
        if path in ("/", "/index.html"):
            page = (STATIC / "index.html").read_text().replace("{{TOKEN}}", self.server.token)
            return self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        if path == "/api/state":
            return self._json(HTTPStatus.OK, self.server.session.state())
        for prefix, root in (("/static/", STATIC), ("/sheets/", self.server.session.sheets_dir)):
            if path.startswith(prefix):
                return self._file(root, unquote(path[len(prefix):]))
        self._error(HTTPStatus.NOT_FOUND, "not found")

    do_HEAD = do_GET

    def _file(self, root: Path, rel: str) -> None:
        target = safe_file(root, rel)
        if target is None:
            return self._error(HTTPStatus.FORBIDDEN if _escapes(rel) else HTTPStatus.NOT_FOUND, "refused path")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript",):
            ctype += "; charset=utf-8"
        self._send(HTTPStatus.OK, target.read_bytes(), ctype)

    def do_POST(self) -> None:
        path = self._route()
        if path is None:
            return
        if path != "/api/label":
            return self._error(HTTPStatus.NOT_FOUND, "not found")
        if "json" not in (self.headers.get("Content-Type") or ""):
            return self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return self._error(HTTPStatus.BAD_REQUEST, f"body must be 1…{MAX_BODY} bytes")
        try:
            change = json.loads(self.rfile.read(length))
            result = self.server.session.update(change)
        except ValueError:
            return self._error(HTTPStatus.BAD_REQUEST, "malformed JSON")
        except GanfixError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except OSError as exc:  # the file could not be written: the page must say "not saved"
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"could not save: {exc}")
        self._json(HTTPStatus.OK, result)


def _escapes(rel: str) -> bool:
    return rel.startswith("/") or "\\" in rel or "\x00" in rel or ".." in rel.split("/")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    token: str
    session: LabelSession


class LabelServer:
    """`with LabelServer(session) as srv: print(srv.url)`, or `srv.start()` / `srv.stop()`."""

    def __init__(self, session: LabelSession, port: int = 0, token: str | None = None):
        self.token = token or secrets.token_urlsafe(24)
        try:
            self.httpd = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise GanfixError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; pick another --port") from None
        self.httpd.token = self.token
        self.httpd.session = session
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def start(self) -> "LabelServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="ganfix-annotate", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "LabelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
