"""One small local HTTP server for ganfix's pages (labelling, study, paint; stdlib only).

A page is a `Page`: its static folder name, a JSON state (GET /api/state), JSON actions
(POST /api/<name>) and folders of generated files it may serve. The server adds the safety rules
once, for every page:

- bound to 127.0.0.1; a random token is required on every request (`?token=` or the
  `X-Ganfix-Token` header; compared in constant time); the Host header must name the loopback
  address (no DNS rebinding);
- POSTs must come from the page itself: an `Origin` other than the server's own, or
  `Sec-Fetch-Site: cross-site`/`same-site`, is refused; the body must be exactly `application/json`
  (optionally `; charset=utf-8`), at most `Page.max_body` bytes, nested at most `MAX_DEPTH` deep,
  and must arrive within `body_seconds` (a slow or stalled client gets 408, it cannot hold a thread);
  every socket has a timeout, and a whole connection a deadline (3 × the socket timeout + the body
  deadline), so trickled header lines cannot hold a thread either;
- files are served only from the page's static folder and the page's own folders, after resolving
  symlinks and checking containment.
"""
from __future__ import annotations

import html
import json
import mimetypes
import re
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import GanfixError, UsageError

STATIC = Path(__file__).with_name("static")
MAX_BODY = 16 * 1024
MAX_DEPTH = 16
SOCKET_TIMEOUT = 10.0
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
JSON_TYPES = {"application/json", "application/json;charset=utf-8"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


@dataclass
class Page:
    """One page: `static/<name>/{header,body}.html` in the shared shell `static/page.html` (+ its app.css, app.js), its state
    and its actions; `title` names it in the tab and header.

    state():        the JSON for GET /api/state (query parameters as a dict of str).
    actions[name]:  POST /api/<name> with a JSON body → JSON reply. UsageError → 400 with its message,
                    OSError → 500 "could not save" (the page must say "not saved").
    folders[prefix]: GET /<prefix>/<rel> is served from that folder (containment checked).
    """
    name: str
    state: Callable[[dict], Any]
    actions: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)
    max_body: int = MAX_BODY
    title: str = "ganfix"


class Session:
    """A page's server-side state behind one lock (the server answers requests on several threads): a subclass
    gives `_state()`; `state` (GET /api/state) and its actions run under `self._lock`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _state(self) -> dict:
        raise NotImplementedError

    def state(self, _query=None) -> dict:
        with self._lock:
            return self._state()


def json_object(body) -> dict:
    """An action's body, which must be a JSON object (UsageError → 400 otherwise)."""
    if not isinstance(body, dict):
        raise UsageError("expected a JSON object")
    return body


def page_html(page: Page, token: str) -> str:
    """The page's HTML: the shared shell (static/page.html: head, base.css, header, common.js) with the page's own
    files from static/<name>/: header.html (its header items), body.html, app.css and app.js."""
    own = {part: (STATIC / page.name / f"{part}.html").read_text(encoding="utf-8").rstrip("\n") for part in ("header", "body")}
    shell = (STATIC / "page.html").read_text(encoding="utf-8")
    return (shell.replace("{{HEADER}}", own["header"]).replace("{{BODY}}", own["body"])
            .replace("{{TITLE}}", html.escape(page.title)).replace("{{NAME}}", page.name).replace("{{TOKEN}}", token))


def check_port(port: int) -> int:
    """`port` if it is a TCP port number (0: any free port), else a UsageError."""
    if not 0 <= port <= 65535:
        raise UsageError(f"port must be in 0…65535, got {port}")
    return port


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


def json_depth(text: str) -> int:
    """Deepest nesting of arrays/objects in a JSON text (strings ignored), without recursion."""
    depth = peak = 0
    for ch in _STRINGS.sub('""', text):
        if ch in "[{":
            depth += 1
            peak = max(peak, depth)
        elif ch in "]}":
            depth -= 1
    return peak


def parse_json_body(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The decoded body, or ValueError: not UTF-8, nested deeper than `max_depth`, NaN/Infinity, malformed."""
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if json_depth(text) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")

    def no_constants(name: str):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=no_constants)


class _BodyTimeout(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    server_version = "ganfix"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive threads

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout  # StreamRequestHandler applies it to the socket
        super().setup()
        # A whole connection (request line, headers, body, reply) has a deadline too: a client that
        # trickles header lines, each within the socket timeout, is cut off all the same.
        self._watchdog = threading.Timer(self.server.connection_seconds, self._cut)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cut(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self) -> None:
        self._watchdog.cancel()
        super().finish()

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
        self._send(status, json.dumps(obj, allow_nan=False).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # -- checks ---------------------------------------------------------------------------------
    def _own_hosts(self) -> set[str]:
        port = self.server.server_address[1]
        return {f"127.0.0.1:{port}", f"localhost:{port}"}

    def _authorised(self, query: dict) -> bool:
        given = self.headers.get("X-Ganfix-Token") or (query.get("token") or [""])[0]
        return secrets.compare_digest(given.encode(), self.server.token.encode())

    def _route(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        host = (self.headers.get("Host") or "").lower()
        if host not in self._own_hosts() or not self._authorised(query):
            self._error(HTTPStatus.FORBIDDEN, "forbidden: missing or wrong token")
            return None, None
        return parts.path, {k: v[0] for k, v in query.items() if k != "token"}

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{h}" for h in self._own_hosts()}:
            return False
        return (self.headers.get("Sec-Fetch-Site") or "same-origin").lower() in ("same-origin", "none")

    def _json_type(self) -> bool:
        ctype = (self.headers.get("Content-Type") or "").lower().replace(" ", "")
        return ctype in JSON_TYPES

    def _read_body(self, length: int) -> bytes:
        """`length` bytes, all within the server's body deadline (a trickling client cannot hold a thread)."""
        deadline = time.monotonic() + self.server.body_seconds
        chunks, got = [], 0
        try:
            while got < length:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _BodyTimeout
                self.connection.settimeout(left)
                chunk = self.rfile.read1(length - got)
                if not chunk:
                    raise _BodyTimeout  # the client closed before sending the whole body
                chunks.append(chunk)
                got += len(chunk)
        except (TimeoutError, socket.timeout):
            raise _BodyTimeout from None
        finally:
            self.connection.settimeout(self.server.socket_timeout)
        return b"".join(chunks)

    # -- methods --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path, query = self._route()
        if path is None:
            return
        page = self.server.page
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, page_html(page, self.server.token).encode(), "text/html; charset=utf-8")
        if path == "/api/state":
            return self._call(lambda: page.state(query))
        roots = {"static": STATIC, **page.folders}
        for prefix, root in roots.items():
            if path.startswith(f"/{prefix}/"):
                return self._file(Path(root), unquote(path[len(prefix) + 2:]))
        self._error(HTTPStatus.NOT_FOUND, "not found")

    do_HEAD = do_GET

    def _file(self, root: Path, rel: str) -> None:
        target = safe_file(root, rel)
        if target is None:
            return self._error(HTTPStatus.FORBIDDEN if _escapes(rel) else HTTPStatus.NOT_FOUND, "refused path")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        self._send(HTTPStatus.OK, target.read_bytes(), ctype)

    def do_POST(self) -> None:
        path, _ = self._route()
        if path is None:
            return
        if not self._same_origin():
            return self._error(HTTPStatus.FORBIDDEN, "forbidden: cross-origin request")
        page = self.server.page
        action = page.actions.get(path[len("/api/"):]) if path.startswith("/api/") else None
        if action is None:
            return self._error(HTTPStatus.NOT_FOUND, "not found")
        if not self._json_type():
            return self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/json")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= page.max_body:
            self.close_connection = True
            return self._error(HTTPStatus.BAD_REQUEST if length <= page.max_body else HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"body must be 1…{page.max_body} bytes")
        try:
            raw = self._read_body(length)
        except _BodyTimeout:
            self.close_connection = True
            return self._error(HTTPStatus.REQUEST_TIMEOUT, f"body not received within {self.server.body_seconds:g} s")
        try:
            body = parse_json_body(raw)
        except ValueError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, f"malformed JSON: {exc}")
        self._call(lambda: action(body))

    def _call(self, fn: Callable[[], Any]) -> None:
        try:
            result = fn()
        except GanfixError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except OSError as exc:  # a file could not be written: the page must say "not saved"
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"could not save: {exc}")
        except Exception as exc:  # noqa: BLE001 - one failing request must not kill the page
            print(f"ganfix page: internal error in {self.command} {urlsplit(self.path).path}: {exc!r}", file=sys.stderr)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(exc).__name__}")
        self._json(HTTPStatus.OK, result)


def _escapes(rel: str) -> bool:
    return rel.startswith("/") or "\\" in rel or "\x00" in rel or ".." in rel.split("/")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    token: str
    page: Page
    socket_timeout: float
    body_seconds: float
    connection_seconds: float

    def handle_error(self, request, client_address) -> None:
        """A client that hung up or timed out is not news (socketserver printed a traceback framed in dashes for
        each); anything else gets one line on stderr. The server keeps serving either way."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        print(f"ganfix page: error while serving {client_address[0]}: {exc!r}", file=sys.stderr)


class PageServer:
    """`with PageServer(page) as srv: print(srv.url)`, or `srv.start()` / `srv.stop()`."""

    def __init__(self, page: Page, port: int = 0, token: str | None = None, socket_timeout: float = SOCKET_TIMEOUT,
                 body_seconds: float | None = None):
        self.token = token or secrets.token_urlsafe(24)
        check_port(port)
        try:
            self.httpd = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise GanfixError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; choose another port (port=0: any free one)") from None
        self.httpd.token = self.token
        self.httpd.page = page
        self.httpd.socket_timeout = socket_timeout
        self.httpd.body_seconds = socket_timeout if body_seconds is None else body_seconds
        self.httpd.connection_seconds = 3 * socket_timeout + self.httpd.body_seconds
        self._thread: threading.Thread | None = None

    @property
    def page(self) -> Page:
        return self.httpd.page

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def start(self) -> "PageServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name=f"ganfix-{self.page.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self) -> None:
        """Block until Ctrl-C (KeyboardInterrupt propagates to the caller)."""
        while True:
            time.sleep(3600)

    def __enter__(self) -> "PageServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
