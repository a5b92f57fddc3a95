"""Labelling server without a browser (token, path containment, autosave on disk) and the
`ganfix annotate` CLI paths that need no server (--mark/--unmark, --no-serve, bad inputs)."""
from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from annotate_helpers import TINY_LAYER, running_server, tiny_progan
from ganfix.pages import safe_file
from ganfix.cli.app import app
from cli_helpers import one_line_error, runner


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    # One server for the module: building the generator and its sheets is the slow part.
    with running_server(tmp_path_factory.mktemp("srv")) as s:
        yield s


def raw(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """A request with the path sent exactly as given (no client-side normalisation of `..`)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def post(server, change, token=None, ctype="application/json"):
    body = change if isinstance(change, bytes) else json.dumps(change).encode()
    return raw(server, "POST", "/api/label", body, {"X-Ganfix-Token": token or server.token, "Content-Type": ctype})


def test_binds_loopback_and_page_needs_token(srv):
    server, _, _ = srv
    assert server.httpd.server_address[0] == "127.0.0.1"
    with urllib.request.urlopen(server.url, timeout=10) as res:
        page = res.read().decode()
    assert res.status == 200 and f"static/label/app.js?token={server.token}" in page
    base = f"http://127.0.0.1:{server.port}"
    for url in (f"{base}/", f"{base}/?token=wrong", f"{base}/api/state", f"{base}/static/label/app.js",
                f"{base}/api/state?token={server.token[:-1]}"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=10)
        assert err.value.code == 403, url
    assert raw(server, "POST", "/api/label", b'{"unit": 1, "marked": true}', {"Content-Type": "application/json"})[0] == 403
    assert post(server, {"unit": 1, "marked": True}, token="nope")[0] == 403
    # A foreign Host header (DNS rebinding) is refused even with the token.
    assert raw(server, "GET", f"/?token={server.token}", headers={"Host": "evil.example:80"})[0] == 403


def test_state_and_files_with_token(srv):
    server, path, manifest = srv
    status, data = raw(server, "GET", "/api/state", headers={"X-Ganfix-Token": server.token})
    state = json.loads(data)
    assert status == 200 and [u["unit"] for u in state["units"]] == [u["unit"] for u in manifest["units"]]
    assert state["layer"] == TINY_LAYER and state["set"] == "artifacts" and state["marked"] == []
    status, data = raw(server, "GET", f"/sheets/{manifest['units'][0]['file']}?token={server.token}")
    assert status == 200 and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert raw(server, "GET", f"/static/label/app.css?token={server.token}")[0] == 200


@pytest.mark.parametrize("path", [
    "/sheets/../sheets.json", "/sheets/../../tiny.pt", "/static/../server.py", "/static/../../errors.py",
    "/sheets/..%2f..%2ftiny.pt", "/sheets/%2e%2e/%2e%2e/tiny.pt", "/sheets/units/..%5c..%5ctiny.pt",
    "/sheets//etc/passwd", "/sheets/%2Fetc%2Fpasswd", "/static/%2fetc%2fpasswd", "/sheets/units/%00x.png",
])
def test_paths_outside_the_assets_are_refused(srv, path):
    server, _, _ = srv
    sep = "&" if "?" in path else "?"
    status, data = raw(server, "GET", f"{path}{sep}token={server.token}")
    assert status in (403, 404) and b"PNG" not in data and b"import" not in data, (path, status)


def test_symlink_out_of_the_sheet_folder_is_refused(srv):
    server, path, _ = srv
    tmp_path = path.parents[2]
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, tmp_path / "sheets" / "units" / "link.png")
    status, data = raw(server, "GET", f"/sheets/units/link.png?token={server.token}")
    assert status in (403, 404) and b"secret" not in data
    assert safe_file(tmp_path / "sheets", "units/link.png") is None
    assert safe_file(tmp_path / "sheets", "sheets.json") == (tmp_path / "sheets" / "sheets.json").resolve()


def test_post_toggles_and_saves_atomically(srv):
    server, path, manifest = srv
    unit = manifest["units"][2]["unit"]
    status, data = post(server, {"unit": unit, "marked": True})
    assert status == 200 and json.loads(data)["marked"] == [unit]
    on_disk = json.loads(path.read_text())
    assert on_disk["units"] == [unit] and on_disk["labels"][str(unit)]["marked"] is True
    status, _ = post(server, {"unit": unit, "text": "  checker blotch "})
    assert status == 200 and json.loads(path.read_text())["labels"][str(unit)]["text"] == "checker blotch"
    assert json.loads(path.read_text())["units"] == [unit]  # a text edit keeps the mark

    # Readers never see a half-written file while many writes happen (temp file + os.replace).
    bad, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                json.loads(path.read_text())
            except ValueError as exc:
                bad.append(exc)
    t = threading.Thread(target=reader)
    t.start()
    for i in range(30):
        assert post(server, {"unit": unit, "marked": i % 2 == 0})[0] == 200
    stop.set()
    t.join()
    assert not bad
    assert json.loads(path.read_text())["units"] == []  # last write (i=29) unmarked it
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temp files left behind


@pytest.mark.parametrize("body,ctype", [
    (b"{not json", "application/json"), (b'{"unit": 9999, "marked": true}', "application/json"),
    (b'{"unit": "1", "marked": true}', "application/json"), (b'{"unit": 1, "marked": "yes"}', "application/json"),
    (b'{"unit": 1}', "application/json"), (b'[1, 2]', "application/json"),
    (b'{"unit": 1, "marked": true}', "text/plain"),
])
def test_bad_posts_leave_the_file_untouched(srv, body, ctype):
    server, path, _ = srv
    before = path.read_bytes()
    status, data = post(server, body, ctype=ctype)
    assert status in (400, 415) and "error" in json.loads(data)
    assert path.read_bytes() == before


# -- CLI ----------------------------------------------------------------------------------------


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_mark_unmark_and_bad_inputs(tmp_path):
    gen = tiny_progan(tmp_path)
    ann = tmp_path / "a.json"
    res = cli("annotate", gen, "--layer", TINY_LAYER, "--annotations", ann, "--mark", "5,1,3", "--text", "blotch")
    assert res.exit_code == 0, res.output
    data = json.loads(ann.read_text())
    assert data["units"] == [1, 3, 5] and data["labels"]["3"]["text"] == "blotch" and data["layer"] == TINY_LAYER
    res = cli("annotate", gen, "--layer", TINY_LAYER, "--annotations", ann, "--unmark", "3", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["units"] == [1, 5]
    before = ann.read_bytes()
    one_line_error(cli("annotate", gen, "--layer", TINY_LAYER, "--annotations", ann, "--mark", "2,8,99"), "8", "99")
    one_line_error(cli("annotate", gen, "--layer", TINY_LAYER, "--annotations", ann, "--mark", ","), "--mark")
    one_line_error(cli("annotate", gen, "--layer", TINY_LAYER, "--annotations", ann, "--mark", "1,x"), "--mark")
    one_line_error(cli("annotate", gen, "--layer", "layer3", "--annotations", ann, "--mark", "1"), "layer")
    one_line_error(cli("annotate", gen, "--layer", "nope", "--annotations", ann, "--mark", "1"), "nope")
    assert ann.read_bytes() == before

    # The set is bound to the model fingerprint: another model is refused unless --force.
    import torch
    from ganfix.models import ProGAN
    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    torch.save(ProGAN(16, z_dim=16, widths=[8, 8, 8]).state_dict(), other)
    one_line_error(cli("annotate", other, "--layer", TINY_LAYER, "--annotations", ann, "--mark", "2"), "fingerprint")
    assert ann.read_bytes() == before
    res = cli("annotate", other, "--layer", TINY_LAYER, "--annotations", ann, "--mark", "2", "--force")
    assert res.exit_code == 0, res.output
    assert 2 in json.loads(ann.read_text())["units"]


def test_cli_no_serve_writes_sheets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gen = tiny_progan(tmp_path)
    res = cli("annotate", gen, "--layer", TINY_LAYER, "--samples", 40, "--no-serve", "--out", "s", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["units"] == 8 and (tmp_path / "s" / "index.html").is_file()
    assert len(list((tmp_path / "s" / "units").glob("*.png"))) == 8 * 2  # overlay + plain
    one_line_error(cli("annotate", gen, "--layer", TINY_LAYER, "--no-serve", "--samples", 0), "--samples")


@pytest.mark.slow
def test_cli_serves_and_a_killed_server_loses_no_label(tmp_path):
    """The real command in a subprocess: prints its URL, saves on every change, SIGKILL loses nothing."""
    import signal
    import subprocess
    import sys

    gen = tiny_progan(tmp_path)
    ann = tmp_path / "ann.json"
    proc = subprocess.Popen([sys.executable, "-m", "ganfix.cli.app", "annotate", str(gen), "--layer", TINY_LAYER,
                             "--samples", "40", "--annotations", str(ann), "--out", str(tmp_path / "s"), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        lines = []
        while not "".join(lines).rstrip().endswith("}"):
            line = proc.stdout.readline()
            assert line, f"annotate exited early ({proc.poll()}): {''.join(lines)}"
            lines.append(line)
        info = json.loads("".join(lines))
        url = info["url"]
        assert url.startswith("http://127.0.0.1:") and "token=" in url and info["annotations"] == str(ann)
        port, token = int(url.split(":")[2].split("/")[0]), url.split("token=")[1]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/api/label", body=b'{"unit": 3, "marked": true, "text": "blotch"}',
                     headers={"X-Ganfix-Token": token, "Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        proc.send_signal(signal.SIGKILL)  # no chance to flush anything after the reply
        proc.wait(timeout=10)
        data = json.loads(ann.read_text())
        assert data["units"] == [3] and data["labels"]["3"]["text"] == "blotch"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
