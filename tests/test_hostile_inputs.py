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
from typer.testing import CliRunner

from ganfix.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


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


@pytest.mark.parametrize("command", ["score", "repair", "check", "demo", "rank", "annotate", "dissect", "ace"])
def test_2_every_caching_command_has_no_cache(command):
    assert "--no-cache" in run(command, "--help").output


# -- item 3: NaN/Inf in scoring ----------------------------------------------------------------------

NAN_TAIL = "return torch.where((z[:, 0] > 1.5).view(-1, 1, 1, 1), torch.full_like(x, float('nan')), x)"
INF_TAIL = "return torch.where((z[:, 1] > 1.5).view(-1, 1, 1, 1), torch.full_like(x, float('inf')), x)"


@pytest.mark.parametrize("tail, ids", [(NAN_TAIL, "7, 20, 24, 26"), (INF_TAIL, None)], ids=["nan", "inf"])
def test_3_non_finite_images_exit_2_naming_the_samples(tmp_path, tail, ids):
    spec = tiny_gen(tmp_path, "nan_gen", tail)
    res = run("score", spec, "--features", "toyscenes", "--samples", 40, "--real", "world", "--no-cache")
    line = one_line(res, 2, "non-finite", "of 40 samples", "sample ids")
    if ids:  # z[:, 0] > 1.5 for exactly these of ids 0…39 under seed 0
        assert f"4 of 40 samples (seed 0, sample ids {ids})" in line, line


# -- item 5: internal errors exit 3 ------------------------------------------------------------------

def _crash(*_a, **_k):
    raise ZeroDivisionError("planted bug")


@pytest.mark.parametrize("debug", ["", "flag", "env"])
def test_5_internal_error_exits_3_with_one_line(monkeypatch, debug):
    import ganfix.loaders

    monkeypatch.setattr(ganfix.loaders, "load_generator", _crash)
    monkeypatch.delenv("GANFIX_DEBUG", raising=False)
    args = (["--debug"] if debug == "flag" else []) + ["layers", "toyscenes"]
    res = run(*args, env={"GANFIX_DEBUG": "1"} if debug == "env" else None)
    assert res.exit_code == 3, res.output  # never 1: that is a failed gate
    lines = [l for l in res.output.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "internal error" in lines[0] and "ZeroDivisionError: planted bug" in lines[0]
    assert ("Traceback" in res.output) == bool(debug), res.output
    os.environ.pop("GANFIX_DEBUG", None)


def test_5_crash_outside_a_command_body_exits_3(monkeypatch, capsys):
    # The console entry point itself (e.g. a crash while typer builds the command line).
    import ganfix.cli.app as cli

    monkeypatch.setattr(cli, "app", _crash)
    monkeypatch.delenv("GANFIX_DEBUG", raising=False)
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
