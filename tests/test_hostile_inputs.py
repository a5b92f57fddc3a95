"""Issue 11: hostile and careless inputs. One table-driven test per item, each reproducing the defect
as it was found (the numbers in the test names are the issue's items; 1, 10 and 11 live with the
extractors, the labelling server and the export tests)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ganfix.cli.app import app
from cli_helpers import runner

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def one_line(result, code=2, *needles):
    text = result.output.strip()
    assert result.exit_code == code, (result.exit_code, text)
    lines = [l for l in text.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in text, text
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# A tiny user generator (16×16 RGB from an 8-d latent); variants differ only in forward.
TINY_GEN = """
import torch
class G(torch.nn.Module):
    z_dim = 8
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(8, 3 * 16 * 16)
    def forward(self, z):
        x = torch.tanh(self.l(z)).view(-1, 3, 16, 16)
        {tail}
def factory():
    torch.manual_seed(0)
    return G()
"""


def tiny_gen(folder: Path, name: str, tail: str = "return x") -> str:
    return f"{write(folder / f'{name}.py', TINY_GEN.replace('{tail}', tail))}:factory"


# -- item 2: the fingerprint includes code -----------------------------------------------------------

def _script(path: Path, double: bool) -> Path:
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(8, 3 * 16 * 16)

        def forward(self, z):
            return torch.tanh(self.l(z)).view(-1, 3, 16, 16)

    class Net2(Net):
        def forward(self, z):
            return torch.tanh(2 * self.l(z)).view(-1, 3, 16, 16)

    torch.manual_seed(0)
    net = (Net2 if double else Net)()
    net.z_dim = 8
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream, still the portable format
        torch.jit.save(torch.jit.script(net), str(path))
    return path


FINGERPRINT_CASES = [
    # (what, make spec A, make spec B, same fingerprint expected)
    ("two factories, one state dict, different forward",
     lambda d: tiny_gen(d / "a", "g"), lambda d: tiny_gen(d / "b", "g", "return -x"), False),
    ("two TorchScript files, same weights, different forward",
     lambda d: str(_script(d / "a.ts", False)), lambda d: str(_script(d / "b.ts", True)), False),
    ("the same factory file in another folder",
     lambda d: tiny_gen(d / "a", "g"), lambda d: tiny_gen(d / "elsewhere", "g"), True),
    ("the same TorchScript file twice",
     lambda d: str(_script(d / "a.ts", False)), lambda d: str(_script(d / "c.ts", False)), True),
]


@pytest.mark.parametrize("what, make_a, make_b, same", FINGERPRINT_CASES, ids=[c[0] for c in FINGERPRINT_CASES])
def test_2_fingerprint_includes_code(tmp_path, what, make_a, make_b, same):
    from ganfix.generator import load_generator

    a, b = load_generator(make_a(tmp_path)), load_generator(make_b(tmp_path))
    assert (a.fingerprint == b.fingerprint) == same, what


def test_2_different_forward_gets_its_own_scores(tmp_path):
    # Found: the second factory read the first one's cached features and printed the same FD.
    specs = [tiny_gen(tmp_path / "a", "g"), tiny_gen(tmp_path / "b", "g", "return x.flip(-1).abs()")]
    fds = []
    for spec in specs:
        res = run("score", spec, "--features", "toyscenes", "--samples", 16, "--real", "world", "--json")
        assert res.exit_code == 0, res.output
        fds.append(json.loads(res.stdout)["fid"])
    assert fds[0] != fds[1], fds


def test_2_normalised_source_ignores_comments_and_docstrings_only():
    from ganfix.fingerprint import normalised_source

    base = "class A:\n    def f(self, x):\n        return x + 1\n"
    assert normalised_source(base) == normalised_source(
        'class A:  # note\n    """doc"""\n\n    def f(self, x):\n        "doc"\n        return x + 1  # more\n')
    assert normalised_source(base) != normalised_source(base.replace("x + 1", "x + 2"))


@pytest.mark.parametrize("command", ["score", "repair", "check", "demo", "rank", "annotate", "dissect", "ace", "worst", "paint"])
def test_2_every_caching_command_has_no_cache(command):
    assert "--no-cache" in run(command, "--help").output


# -- item 3: NaN/Inf in scoring ----------------------------------------------------------------------

NAN_TAIL = "return torch.where((z[:, 0] > 1.5).view(-1, 1, 1, 1), torch.full_like(x, float('nan')), x)"
INF_TAIL = "return torch.where((z[:, 1] > 1.5).view(-1, 1, 1, 1), torch.full_like(x, float('inf')), x)"


def _nan_case(tmp: Path, command: str, tail: str) -> list:
    from ganfix.annotations import AnnotationSet
    from ganfix.generator import load_generator

    spec = tiny_gen(tmp, "nan_gen", tail)
    if command == "score":
        return ["score", spec, "--features", "toyscenes", "--samples", 40, "--real", "world", "--no-cache"]
    if command == "repair":
        aset = AnnotationSet.new(load_generator(spec), "l", "artifacts")
        aset.mark(3)
        aset.save(tmp / "set.json")
        return ["repair", spec, "-a", tmp / "set.json", "--out", tmp / "out", "--features", "toyscenes",
                "--samples", 40, "--real", "world", "--no-cache", "--random-draws", 1, "--bootstrap", 0]
    write(tmp / "ganfix.toml", f'generator = "{spec}"\nfeatures = "toyscenes"\nreal = "world"\nsamples = 40\n[gates]\nmax_fid = 100\n')
    return ["check", "--config", tmp / "ganfix.toml", "--no-cache"]


@pytest.mark.parametrize("command, tail", [("score", NAN_TAIL), ("score", INF_TAIL), ("repair", NAN_TAIL),
                                          ("check", NAN_TAIL)], ids=["score-nan", "score-inf", "repair-nan", "check-nan"])
def test_3_non_finite_images_exit_2_naming_the_samples(tmp_path, command, tail):
    # Found: NaN images became black pixels and a plausible FID with exit 0.
    res = run(*_nan_case(tmp_path, command, tail))
    line = one_line(res, 2, "non-finite", "of 40 samples", "sample ids")
    if tail == NAN_TAIL:  # z[:, 0] > 1.5 for exactly these of ids 0…39 under seed 0
        assert "4 of 40 samples (seed 0, sample ids 7, 20, 24, 26)" in line, line
    assert not (tmp_path / "out").exists()  # repair: nothing exported for a model that cannot be scored


# -- item 4: lost labels -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def label_server(tmp_path_factory):
    from annotate_helpers import running_server

    with running_server(tmp_path_factory.mktemp("label")) as s:
        yield s


def _click(server, change) -> dict:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/api/label", json.dumps(change).encode(),
                 {"X-Ganfix-Token": server.token, "Content-Type": "application/json"})
    res = conn.getresponse()
    body = json.loads(res.read())
    conn.close()
    assert res.status == 200, body
    return body


def _mark_from_script(path: Path, gen_path: Path, units: str):
    res = run("annotate", gen_path, "--layer", "layer4", "--annotations", path, "--mark", units)
    assert res.exit_code == 0, res.output


LOST_LABEL_CASES = [
    # (what another writer does while the page is open, units marked on disk at the end)
    ("--mark from a script, then a page click", "script", [0, 2, 5]),
    ("an editor rewrites the file, then a page click", "editor", [0, 2, 6]),
]


@pytest.mark.parametrize("what, writer, expect", LOST_LABEL_CASES, ids=[c[1] for c in LOST_LABEL_CASES])
def test_4_concurrent_writer_survives_a_page_click(label_server, what, writer, expect):
    from ganfix.annotations import AnnotationSet

    server, path, _ = label_server
    gen_path = path.parent.parent.parent / "tiny.pt"
    for u in range(8):  # a clean start for each case
        _click(server, {"unit": u, "marked": False, "text": ""})
    _click(server, {"unit": 0, "marked": True})
    if writer == "script":
        _mark_from_script(path, gen_path, "5")
    else:
        data = json.loads(path.read_text())
        data["units"] = sorted(data["units"] + [6])
        path.write_text(json.dumps(data))
    body = _click(server, {"unit": 2, "marked": True})  # found: this click erased the other writer's unit
    other = expect[-1]
    assert AnnotationSet.load(path).units == expect
    assert body["marked"] == expect and body["external"] == [other] and str(other) in body["note"]
    assert _click(server, {"unit": 3, "text": "x"})["external"] == []  # reported once


def test_4_many_writers_lose_nothing(tmp_path):
    import threading

    from ganfix.annotations import AnnotationSet, update_file

    path = tmp_path / "set.json"
    base = AnnotationSet("m", "fp", "layer4", num_units=64)
    base.save(path)
    errors = []

    def writer(k):
        try:
            for u in range(k * 8, k * 8 + 8):
                update_file(path, base, lambda s, u=u: s.mark(u))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and AnnotationSet.load(path).units == list(range(48))


@pytest.mark.parametrize("chain", [1, 2], ids=["symlink", "symlink-to-symlink"])
def test_4_symlinked_set_is_written_through(tmp_path, chain):
    from ganfix.annotations import AnnotationSet, update_file

    target = tmp_path / "real" / "set.json"
    aset = AnnotationSet("m", "fp", "layer4", num_units=64)
    aset.save(target)
    link = target
    for i in range(chain):
        new = tmp_path / f"link{i}.json"
        new.symlink_to(link)
        link = new
    update_file(link, aset, lambda s: s.mark(9))
    assert link.is_symlink() and os.path.realpath(link) == str(target)  # found: the link was replaced by a file
    assert AnnotationSet.load(target).units == [9]
    aset.mark(11)
    aset.save(link)  # a plain save (no merge) writes through too
    assert link.is_symlink() and AnnotationSet.load(target).units == [11]


def test_4_a_file_swapped_for_another_model_is_not_overwritten(tmp_path):
    from ganfix.annotations import AnnotationSet, update_file
    from ganfix.errors import UsageError

    path = tmp_path / "set.json"
    mine = AnnotationSet("m", "fp", "layer4", num_units=64)
    AnnotationSet("other", "fp2", "layer4", num_units=64).save(path)
    before = path.read_bytes()
    with pytest.raises(UsageError, match="not saved"):
        update_file(path, mine, lambda s: s.mark(1))
    assert path.read_bytes() == before


# -- item 5: internal errors exit 3 ------------------------------------------------------------------

def _crash(*_a, **_k):
    raise ZeroDivisionError("planted bug")


@pytest.mark.parametrize("debug", ["", "flag", "env"])
def test_5_internal_error_exits_3_with_one_line(monkeypatch, debug):
    import ganfix.loaders

    monkeypatch.setattr(ganfix.loaders, "load_generator", _crash)
    monkeypatch.setenv("GANFIX_DEBUG", "0")  # off; restored after the test (--debug sets it in this process)
    args = (["--debug"] if debug == "flag" else []) + ["layers", "toyscenes"]
    res = run(*args, env={"GANFIX_DEBUG": "1"} if debug == "env" else None)
    assert res.exit_code == 3, res.output  # never 1: that is a failed gate
    lines = [l for l in res.output.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "internal error" in lines[0] and "ZeroDivisionError: planted bug" in lines[0]
    assert ("Traceback" in res.output) == bool(debug), res.output


def test_5_crash_outside_a_command_body_exits_3(monkeypatch, capsys):
    # The console entry point itself (e.g. a crash while typer builds the command line).
    import ganfix.cli.app as cli

    monkeypatch.setattr(cli, "app", _crash)
    monkeypatch.setenv("GANFIX_DEBUG", "0")
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" not in err


# -- item 6: strict annotation schemas and [tool.ganfix] ------------------------------------------------

def _set(**over) -> dict:
    base = {"schema": "ganfix.annotations/1", "model": {"name": "toyscenes", "fingerprint": "x"}, "layer": "layer4",
            "set": "artifacts", "num_units": 64, "units": [], "labels": {}, "source": {}}
    base.update(over)
    return base


ANNOTATION_CASES = [
    # (what was found, file content, JSON path named in the error)
    ("string 'false' ablated unit 5", _set(labels={"5": {"marked": "false"}}), '$.labels["5"].marked'),
    ("marked as a number", _set(labels={"5": {"marked": 1}}), '$.labels["5"].marked'),
    ("non-string source", _set(source="scan"), "$.source"),
    ("source as a list", _set(source=[1, 2]), "$.source"),
    ("non-ASCII digit key crashed int()", _set(labels={"²": {"marked": True}}), '$.labels["\\u00b2"]'),
    ("arabic-indic digits", _set(labels={"٣": {"marked": True}}), "$.labels"),
    ("key with a sign", _set(labels={"-1": {"marked": True}}), '$.labels["-1"]'),
    ("text not a string", _set(labels={"3": {"marked": True, "text": ["a"]}}), '$.labels["3"].text'),
    ("unit as a bool", _set(units=[True]), "$.units[0]"),
    ("unit as a float", _set(units=[5.0]), "$.units[0]"),
    ("unit out of range", _set(units=[64]), "$.units[0]"),
    ("layer as a number", _set(layer=4), "$.layer"),
    ("fingerprint missing", _set(model={"name": "toyscenes"}), "$.model.fingerprint"),
    ("top level a list", [1, 2], "$"),
    ("unknown top-level key", _set(extra=1), "$.extra"),
    ("num_units a bool", _set(num_units=True), "$.num_units"),
]


@pytest.mark.parametrize("what, content, path", ANNOTATION_CASES, ids=[c[0] for c in ANNOTATION_CASES])
def test_6_annotation_schema_is_strict(tmp_path, what, content, path):
    f = tmp_path / "set.json"
    f.write_text(json.dumps(content))
    before = f.read_bytes()
    res = run("annotate", "toyscenes", "--layer", "layer4", "--annotations", f, "--mark", "1", "--no-serve")
    line = one_line(res, 2, "malformed annotation file", path)
    assert f.read_bytes() == before, "a malformed file is left untouched"
    assert "unit 5" not in line or what.startswith("string")


@pytest.mark.parametrize("text, needle", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    (json.dumps(_set(source={"a": json.loads("[" * 40 + "]" * 40)})), "nested deeper"),
    ('{"schema": NaN}', "invalid JSON"),
    ('{"a": 1', "invalid JSON"),
    ("\udcff", "invalid JSON"),
], ids=["deep-array", "deep-source", "nan", "truncated", "bad-utf8"])
def test_6_annotation_nesting_and_syntax(tmp_path, text, needle):
    from ganfix.annotations import AnnotationSet
    from ganfix.errors import UsageError

    f = tmp_path / "set.json"
    f.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(UsageError, match=needle):
        AnnotationSet.load(f)


@pytest.mark.parametrize("pyproject, needle", [
    ('[tool]\nganfix = "toyscenes"\n', "must be a table"),
    ('[tool]\nganfix = 3\n', "must be a table"),
    ('tool = 5\n', "no [tool.ganfix]"),
    ('[tool.ganfix]\ngenerator = "toyscenes"\ngates = 1\n', "gates must be"),
])
def test_6_pyproject_tool_ganfix_not_a_table(tmp_path, monkeypatch, pyproject, needle):
    write(tmp_path / "pyproject.toml", pyproject)
    res = run("check", "--config", tmp_path / "pyproject.toml")
    one_line(res, 2, needle)
    monkeypatch.chdir(tmp_path)  # found by searching, too
    res = run("check")
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output


# -- item 9: validate before computing ---------------------------------------------------------------------

RAISE_TAIL = "raise RuntimeError('mat1 and mat2 shapes cannot be multiplied')"
TUPLE_TAIL = "return (x, x)"
FLAT_TAIL = "return x.flatten(1)[:, :10]"
SCORE = ["--features", "toyscenes", "--samples", "16", "--real", "world"]

VALIDATE_CASES = [
    # (what was found, argv with {gen}/{file}/{tmp} placeholders, env, words in the one line)
    ("--out under a file", ["score", "toyscenes", *SCORE, "--out", "{file}/sub"], None, ["is a file"]),
    ("repair --out under a file", ["repair", "toyscenes", "-a", "{set}", "--out", "{file}/x", *SCORE], None, ["is a file"]),
    ("unwritable cache dir", ["score", "toyscenes", *SCORE], {"GANFIX_CACHE": "{file}/cache"}, ["cache folder", "--no-cache"]),
    ("--bootstrap -5", ["repair", "toyscenes", "-a", "{set}", "--out", "{tmp}/r", "--bootstrap", "-5", *SCORE], None,
     ["--bootstrap must be at least 0"]),
    ("score -b 0", ["score", "toyscenes", *SCORE, "-b", "0"], None, ["--batch-size must be at least 1"]),
    ("demo --samples 0 left sheets/", ["demo", "--out", "{tmp}/demo", "--samples", "0"], None, ["--samples must be at least 2, got 0"]),
    ("demo --bootstrap -1", ["demo", "--out", "{tmp}/demo", "--bootstrap", "-1"], None, ["--bootstrap"]),
    ("--z-shape 0", ["score", "{gen}", *SCORE, "--z-shape", "0"], None, ["--z-shape must be positive"]),
    ("--z-shape huge", ["score", "{gen}", *SCORE, "--z-shape", "100000,100000"], None, ["latent values"]),
    ("--z-shape that does not fit", ["score", "{gen}", *SCORE, "--z-shape", "7"], None, ["forward pass", "failed"]),
    ("forward raises", ["score", "{raising}", *SCORE], None, ["forward pass", "RuntimeError"]),
    ("output is a tuple", ["score", "{tuple}", *SCORE], None, ["not an image"]),
    ("output is not an image", ["score", "{flat}", *SCORE], None, ["not an image"]),
    ("TorchScript with a wrong --z-shape", ["score", "{script}", *SCORE, "--z-shape", "5"], None, ["forward pass", "failed"]),
    ("--junit under a file", ["check", "--config", "{toml}", "--junit", "{file}/j.xml"], None, ["is a file"]),
]


@pytest.mark.parametrize("what, argv, env, words", VALIDATE_CASES, ids=[c[0] for c in VALIDATE_CASES])
def test_9_bad_input_is_refused_before_any_work(tmp_path, what, argv, env, words):
    import time

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "afile").write_text("x")
    shipped = ROOT / "annotations" / "toyscenes" / "layer4-artifacts.json"
    write(inputs / "ganfix.toml", 'generator = "toyscenes"\nfeatures = "toyscenes"\n[gates]\nmax_fid = 10\n')
    values = {"file": inputs / "afile", "tmp": tmp_path, "set": shipped, "toml": inputs / "ganfix.toml",
              "gen": tiny_gen(inputs, "g"), "raising": tiny_gen(inputs, "r", RAISE_TAIL),
              "tuple": tiny_gen(inputs, "t", TUPLE_TAIL), "flat": tiny_gen(inputs, "f", FLAT_TAIL),
              "script": str(_script(inputs / "s.ts", False))}
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    started = time.perf_counter()
    res = run(*[a.format(**values) for a in argv], env={k: v.format(**values) for k, v in (env or {}).items()} or None)
    one_line(res, 2, *words)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "__pycache__" not in p.parts)
    assert after == [p for p in before if "__pycache__" not in p.parts], f"left behind: {set(after) - set(before)}"
    assert time.perf_counter() - started < 30  # before any scoring pass (which takes minutes at these sizes on 2 cores)


# -- item 12: honest messages --------------------------------------------------------------------------

def _honest_files(tmp: Path) -> dict:
    from ganfix.models import ProGAN

    (tmp / "random.pt").write_bytes(os.urandom(4096))
    torch.manual_seed(0)
    sd = ProGAN(32, z_dim=32, widths=[32, 32, 16, 16]).state_dict()
    sd["layer2.conv.weight"] = sd["layer2.conv.weight"][:5]
    torch.save(sd, tmp / "mismatch.pt")
    torch.save({"l.weight": torch.zeros(12, 5), "l.bias": torch.zeros(12)}, tmp / "w.pt")
    write(tmp / "f.py", """
        import torch
        class G(torch.nn.Module):
            def __init__(s):
                super().__init__()
                s.l = torch.nn.Linear(4, 12)
            def forward(s, z):
                return s.l(z).view(-1, 3, 2, 2)
        def factory():
            return G()
        """)
    return {"random": tmp / "random.pt", "mismatch": tmp / "mismatch.pt", "f": f"{tmp / 'f.py'}:factory", "w": tmp / "w.pt"}


@pytest.mark.parametrize("args, must, must_not", [
    (["{random}"], ["is not a checkpoint"], ["--trust-pickle"]),
    (["{f}", "--weights", "{random}"], ["is not a checkpoint"], ["--trust-pickle"]),
    (["{random}", "--trust-pickle"], ["is not a checkpoint"], ["re-run with"]),
    (["{f}", "--weights", "{random}", "--trust-pickle"], ["is not a checkpoint"], ["re-run with"]),
    (["{mismatch}"], ["size mismatch for layer1.conv.weight", "torch.Size([32, 32, 4, 4])"], []),
    (["{f}", "--weights", "{w}"], ["shape mismatch: l.weight (12, 5)≠(12, 4)"], []),
], ids=["random-bytes", "random-weights", "random-trusted", "random-weights-trusted", "mismatch-detail", "factory-mismatch"])
def test_12_honest_checkpoint_messages(tmp_path, args, must, must_not):
    files = _honest_files(tmp_path)
    res = run("layers", *[a.format(**files) for a in args])
    line = one_line(res, 2, *must)
    for bad in must_not:
        assert bad not in line, line


def test_12_factory_specs_say_they_run_code():
    assert "run" in " ".join(run("--help").output.split()) and "file.py:factory" in run("--help").output
    readme = (ROOT / "README.md").read_text()
    assert "imports and runs" in readme


def test_12_check_names_the_config_found_in_a_parent_folder(tmp_path, monkeypatch):
    write(tmp_path / "ganfix.toml", 'generator = "toyscenes"\n')
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub" / "deeper")
    res = run("check")  # no gates: exit 2, but only after saying which file it read
    assert res.exit_code == 2
    assert f"using config {tmp_path / 'ganfix.toml'} (found in a parent folder)" in " ".join(res.output.split()), res.output


# -- item 7: real data -----------------------------------------------------------------------------------

def _png(path: Path, width: int, height: int, depth: int, color: int, rows: bytes | None = None) -> Path:
    """A PNG written byte by byte (so headers can claim anything)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    raw = rows if rows is not None else b"\0" * 16
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def _gray16(path: Path, value: int, size: int = 8) -> Path:
    row = b"\0" + value.to_bytes(2, "big") * size
    return _png(path, size, size, 16, 0, row * size)


@pytest.mark.parametrize("value, expect", [(32768, 128), (65535, 255), (0, 0), (1000, 4)])
def test_7_sixteen_bit_png_is_scaled_not_white(tmp_path, value, expect):
    from ganfix.real_data import read_rgb

    arr = read_rgb(_gray16(tmp_path / "g.png", value), 8)
    assert arr.shape == (8, 8, 3) and int(arr.max()) == int(arr.min()) == expect  # found: all 255


def test_7_world_render_folder_gives_only_its_images(tmp_path):
    from ganfix.real_data import RealSource

    res = run("world", "render", "--n", 3, "--out", tmp_path / "scenes", "--resolution", 32)
    assert res.exit_code == 0, res.output
    src = RealSource.from_spec(str(tmp_path / "scenes"), resolution=32)
    files = src._files(tmp_path / "scenes")
    assert src.available() == 3 and all(f.parent.name == "images" for f in files)  # found: 6, masks included
    # Any folder: masks/ subfolders are never read as real images.
    (tmp_path / "mine" / "masks").mkdir(parents=True)
    for name in ("a.png", "masks/a.png"):
        (tmp_path / "mine" / name).write_bytes((files[0]).read_bytes())
    assert RealSource.from_spec(str(tmp_path / "mine")).available() == 1


@pytest.mark.parametrize("width, height, env, needle", [
    (30_000, 30_000, None, "decompression bomb"),          # 900 Mpx claimed by a tiny file
    (100_000, 100_000, None, "decompression bomb"),        # beyond Pillow's own limit
    (16, 16, "100", "more than the 100 allowed"),           # the cap is configurable
])
def test_7_oversized_images_are_refused_in_one_line(tmp_path, monkeypatch, width, height, env, needle):
    monkeypatch.delenv("GANFIX_MAX_IMAGE_PIXELS", raising=False)
    if env:
        monkeypatch.setenv("GANFIX_MAX_IMAGE_PIXELS", env)
    folder = tmp_path / "real"
    folder.mkdir()
    for i in range(4):
        _png(folder / f"{i}.png", width, height, 8, 2)
    spec = tiny_gen(tmp_path, "g")
    res = run("score", spec, "--features", "toyscenes", "--samples", 4, "--real", folder, "--no-cache")
    one_line(res, 2, needle)


# -- item 8: caches ----------------------------------------------------------------------------------------

def _flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) * 3 // 4] ^= 0x10  # inside the tensor bytes
    path.write_bytes(bytes(data))


def _wrong_structure(path: Path) -> None:
    from ganfix.cache import encode_entry

    path.write_bytes(encode_entry({"features": "not a tensor"}))  # a valid, checksummed torch entry


def _old_format(path: Path) -> None:
    torch.save({"features": torch.zeros(3, 3)}, path)  # a plain torch file, no checksum


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize("damage", [_flip_bit, _wrong_structure, _old_format, _truncate],
                         ids=["bit-flip", "wrong-structure", "unchecksummed", "truncated"])
def test_8_damaged_cache_entry_is_recomputed(tmp_path, monkeypatch, damage):
    import ganfix.cache

    monkeypatch.setenv("GANFIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ganfix.cache, "_warned", set())
    spec = tiny_gen(tmp_path, "g")
    args = ("score", spec, "--features", "toyscenes", "--samples", 16, "--real", "world", "--json")
    first = run(*args)
    assert first.exit_code == 0, first.output
    entries = list((tmp_path / "cache" / "gen_features").glob("*.pt"))
    metrics = list((tmp_path / "cache" / "score_metrics").glob("*.pt"))  # the cached FID/KID of the same run
    assert len(entries) == 1 and len(metrics) == 1
    damage(entries[0])
    damage(metrics[0])  # (an intact one would answer without reading the features)
    again = run(*args)
    assert again.exit_code == 0, again.output
    # Found: a flipped bit was used silently (FID 23,562,130); now the entry is recomputed, and said so once.
    assert json.loads(again.stdout)["fid"] == json.loads(first.stdout)["fid"]
    assert again.stderr.count("ignored a damaged gen_features cache entry") == 1, again.stderr
    assert again.stderr.count("ignored a damaged score_metrics cache entry") == 1, again.stderr
    third = run(*args)  # the entry was rewritten: a clean hit, nothing said
    assert "damaged" not in third.stderr and json.loads(third.stdout)["fid"] == json.loads(first.stdout)["fid"]


def _same_size_same_mtime(f: Path) -> None:
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-10] ^= 0xFF  # pixel bytes of an uncompressed BMP: the size stays
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))


def _replaced_by_copy(f: Path) -> None:
    st = f.stat()
    tmp = f.with_suffix(".tmp")
    data = bytearray(f.read_bytes())
    data[-20] ^= 0xFF
    tmp.write_bytes(bytes(data))
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, f)


@pytest.mark.parametrize("edit", [_same_size_same_mtime, _replaced_by_copy], ids=["in-place", "replaced"])
def test_8_real_folder_identity_follows_content(tmp_path, monkeypatch, edit):
    from PIL import Image

    from ganfix.real_data import RealSource

    monkeypatch.setenv("GANFIX_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "real"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (8, 8), (40 * i, 10, 200)).save(folder / f"{i}.bmp")
    src = RealSource.from_spec(str(folder), resolution=8)
    before = src.identity(4)
    assert src.identity(4) == before  # stable (and the second call reads the remembered digests)
    edit(folder / "2.bmp")
    assert src.identity(4) != before
