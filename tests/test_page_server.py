"""The shared page server's hardening (issue 11 item 10), on a minimal page with one counter action:
foreign Origin / Sec-Fetch-Site, inexact content types, slow and stalled bodies, oversized and
deeply nested JSON are refused, and none of them changes the state or blocks other requests."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from ganfix.errors import UsageError
from ganfix.pages import Page, PageServer
from ganfix.pages.server import json_depth, parse_json_body


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("by"), int):
            raise UsageError("'by' must be an integer")
        with self.lock:
            self.n += body["by"]
            return {"n": self.n}


@pytest.fixture()
def srv():
    counter = Counter()
    page = Page("label", state=lambda q: {"n": counter.n, "query": q}, actions={"add": counter.add}, max_body=4096)
    with PageServer(page, socket_timeout=0.5, body_seconds=0.8) as server:
        yield server, counter


def request(server, method, path, body=None, headers=None, token=True):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    hdrs = {"X-Ganfix-Token": server.token} if token else {}
    hdrs.update(headers or {})
    conn.request(method, path, body=body, headers=hdrs)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def post(server, body=b'{"by": 1}', **headers):
    hdrs = {"Content-Type": "application/json"}
    hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
    return request(server, "POST", "/api/add", body, hdrs)


def test_same_origin_posts_work(srv):
    server, counter = srv
    port = server.port
    assert post(server)[0] == 200
    assert post(server, Origin=f"http://127.0.0.1:{port}", Sec_Fetch_Site="same-origin")[0] == 200
    assert post(server, Origin=f"http://localhost:{port}")[0] == 200
    assert post(server, Content_Type="application/json; charset=utf-8")[0] == 200
    assert post(server, Content_Type="Application/JSON;charset=UTF-8")[0] == 200
    assert counter.n == 5
    status, data = request(server, "GET", "/api/state?x=1")
    assert status == 200 and json.loads(data) == {"n": 5, "query": {"x": "1"}}


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:1"},
    {"Origin": "https://127.0.0.1"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
])
def test_foreign_origin_is_refused(srv, headers):
    server, counter = srv
    status, data = post(server, **{k.replace("-", "_"): v for k, v in headers.items()})
    assert status == 403 and "cross-origin" in json.loads(data)["error"]
    assert counter.n == 0


@pytest.mark.parametrize("ctype", ["text/plain", "text/plain; charset=json", "application/json-patch+json",
                                   "application/x-www-form-urlencoded", "multipart/form-data", "",
                                   "application/json; charset=latin-1", "application/jsonx"])
def test_only_exact_json_content_type(srv, ctype):
    server, counter = srv
    assert post(server, Content_Type=ctype)[0] == 415
    assert counter.n == 0


@pytest.mark.parametrize("body,status", [
    (b"[" * 5000 + b"]" * 5000, 413),                       # over the page's size cap
    (b'{"by": ' + b"[" * 2000 + b"]" * 2000 + b"}", 400),    # deep nesting, within the size cap
    (b'{"a":' * 40 + b"1" + b"}" * 40, 400),
    (b'{"by": NaN}', 400), (b'{"by": Infinity}', 400), (b"\xff\xfe", 400), (b"{", 400),
    (b'{"by": "1"}', 400),
])
def test_bad_bodies_are_refused(srv, body, status):
    server, counter = srv
    got, data = post(server, body)
    assert got == status and "error" in json.loads(data), (got, data)
    assert counter.n == 0


def test_depth_counts_brackets_outside_strings():
    assert json_depth('{"a": "[[[[[[", "b": [[1]]}') == 3
    assert json_depth('"\\"[[[["') == 0
    assert parse_json_body(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == {"a": "[" * 31}
    with pytest.raises(ValueError):
        parse_json_body(b"[" * 17 + b"]" * 17)


def test_a_stalled_body_times_out_and_does_not_block_others(srv):
    server, counter = srv
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall((f"POST /api/add HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Ganfix-Token: {server.token}\r\n"
               "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"by\"").encode())
    t0 = time.monotonic()
    assert post(server)[0] == 200  # served while the other request waits for its body
    reply = s.recv(4096)
    waited = time.monotonic() - t0
    s.close()
    assert reply.startswith(b"HTTP/1.0 408"), reply[:60]
    assert waited < 5
    assert counter.n == 1


def test_a_trickling_body_cannot_outlive_the_deadline(srv):
    """One byte every 0.2 s keeps each read under the socket timeout; the body deadline still ends it."""
    server, counter = srv
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall((f"POST /api/add HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Ganfix-Token: {server.token}\r\n"
               "Content-Type: application/json\r\nContent-Length: 50\r\n\r\n").encode())
    t0 = time.monotonic()
    reply = b""
    s.settimeout(0.2)
    while time.monotonic() - t0 < 5 and not reply:
        try:
            s.sendall(b" ")
            reply = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            break
    s.close()
    assert reply.startswith(b"HTTP/1.0 408"), reply[:60]
    assert time.monotonic() - t0 < 3
    assert counter.n == 0


def test_an_idle_connection_is_closed(srv):
    server, _ = srv
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    t0 = time.monotonic()
    assert s.recv(10) == b""  # the server closes it after its socket timeout
    assert time.monotonic() - t0 < 5
    s.close()


def test_internal_errors_answer_500_and_the_server_lives_on(srv):
    server, counter = srv
    server.page.actions["boom"] = lambda body: 1 / 0
    status, data = request(server, "POST", "/api/boom", b"{}", {"Content-Type": "application/json"})
    assert status == 500 and json.loads(data)["error"] == "internal error: ZeroDivisionError"
    assert post(server)[0] == 200 and counter.n == 1


def test_token_and_host_still_required(srv):
    server, counter = srv
    assert request(server, "POST", "/api/add", b'{"by": 1}', {"Content-Type": "application/json"}, token=False)[0] == 403
    assert post(server, Host="evil.example")[0] == 403
    assert request(server, "POST", "/api/nope", b"{}", {"Content-Type": "application/json"})[0] == 404
    assert counter.n == 0


@pytest.mark.slow  # waits out the server's header deadline
def test_trickled_headers_are_cut_off(srv):
    """Header lines sent just within the socket timeout each: the connection deadline still ends it."""
    server, counter = srv
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(f"POST /api/add HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode())
    t0 = time.monotonic()
    closed = False
    while time.monotonic() - t0 < 8:
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            closed = True
            break
        s.settimeout(0.3)
        try:
            if s.recv(4096) == b"":
                closed = True
                break
        except socket.timeout:
            pass
    s.close()
    assert closed and time.monotonic() - t0 < 5
    assert post(server)[0] == 200 and counter.n == 1


def test_a_client_that_hangs_up_prints_no_traceback(srv, capsys):
    """socketserver printed a traceback framed in dashes whenever a client went away mid-request."""
    server, _ = srv
    for exc in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset"), TimeoutError("timed out")):
        try:
            raise exc
        except OSError:
            server.httpd.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        server.httpd.handle_error(None, ("127.0.0.1", 1))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError('boom')" in err and "Traceback" not in err
