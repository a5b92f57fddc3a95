"""`ganfix study` without a browser: the rendered study, per-rater plans, the answer log (fsync'd,
torn lines, import), and the report's intervals against scipy's binomial test."""
from __future__ import annotations

import json

import pytest
from scipy.stats import binomtest

from ganfix.cli.app import app
from ganfix.errors import UsageError
from ganfix.pages.study import StudySession
from ganfix.study import AnswerLog, import_answers, load_study, rater_plan, study_report, wilson_interval
from cli_helpers import runner
from study_helpers import tiny_study



@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return tiny_study(tmp_path_factory.mktemp("study"))


def test_study_renders_every_variant_blind(built):
    _, _, st = built
    m = st.manifest
    assert len(st.trials) == 12 and {t["kind"] for t in st.trials} == {"patched", "random"}
    assert m["patched"]["units"] == [1, 3] and len(m["random"]["units"]) == 2
    assert not set(m["random"]["units"]) & {1, 3}
    names = [n for per in m["images"].values() for n in per.values()]
    assert len(set(names)) == 18 and all((st.dir / "images" / n).read_bytes()[:4] == b"\x89PNG" for n in names)
    assert not any(v in n for n in names for v in ("original", "patched", "random"))  # the page cannot tell
    # Patched and random images differ from the original of the same latent.
    per = m["images"]["0"]
    assert (st.dir / "images" / per["original"]).read_bytes() != (st.dir / "images" / per["patched"]).read_bytes()


def test_plans_are_randomised_per_rater_and_stable(built):
    _, _, st = built
    a, b = rater_plan(st, "ann"), rater_plan(st, "bob")
    assert a == rater_plan(st, "ann")  # a reload or restart shows the same plan
    assert [e["trial"] for e in a] != [e["trial"] for e in b]
    assert sorted(e["trial"] for e in a) == list(range(12))
    for e in a:
        assert {e["left"], e["right"]} == {"original", e["kind"]}
    sides = [e["left"] == "original" for p in (a, b, rater_plan(st, "cy")) for e in p]
    assert 0 < sum(sides) < len(sides)  # both placements occur


def test_session_answers_resume_and_refuse_stale_pairs(built, tmp_path):
    _, _, st0 = built
    st = load_study(st0.dir)
    s = StudySession(st, "resume-test")
    first = s.state()["current"]
    after = s.answer({"trial": first["trial"], "choice": "left", "ms": 812})
    assert after["done"] == 1 and after["current"]["trial"] != first["trial"]
    with pytest.raises(UsageError, match="not the current one"):
        s.answer({"trial": first["trial"], "choice": "right"})
    with pytest.raises(UsageError, match="choice"):
        s.answer({"trial": after["current"]["trial"], "choice": "up"})
    s.answer({"trial": after["current"]["trial"], "choice": "skip"})
    again = StudySession(load_study(st.dir), "resume-test").state()  # a restarted server resumes
    assert again["done"] == 2 and again["skipped"] == 1 and again["current"] == s.state()["current"]
    lines = [json.loads(l) for l in (st.dir / "answers-resume-test.jsonl").read_text().splitlines()]
    plan0 = rater_plan(st, "resume-test")[0]
    assert lines[0]["preferred"] == plan0["left"] and lines[0]["ms"] == 812 and lines[1]["preferred"] is None


def test_a_torn_last_line_is_ignored_and_the_next_answer_starts_fresh(built):
    _, _, st = built
    log = AnswerLog(st, "torn")
    plan = rater_plan(st, "torn")
    log.append({k: plan[0][k] for k in ("trial", "left", "right")} | {"choice": "right"})
    with open(log.path, "ab") as fh:
        fh.write(b'{"rater": "torn", "trial": ')  # killed mid-write
    assert len(log.answers()) == 1
    log.append({k: plan[1][k] for k in ("trial", "left", "right")} | {"choice": "left"})
    assert [a["trial"] for a in log.answers()] == [plan[0]["trial"], plan[1]["trial"]]


def test_report_matches_a_direct_computation(tmp_path):
    _, _, st = tiny_study(tmp_path, samples=20)
    lines = []
    for rater, prefer_patched in (("r1", 0.8), ("r2", 0.6)):
        for i, e in enumerate(rater_plan(st, rater)):
            want_mod = (i % 10) < prefer_patched * 10 if e["kind"] == "patched" else i % 2 == 0
            mod_side = "left" if e["left"] == e["kind"] else "right"
            choice = "skip" if i == 3 else (mod_side if want_mod else ("right" if mod_side == "left" else "left"))
            lines.append({"rater": rater, "trial": e["trial"], "left": e["left"], "right": e["right"], "choice": choice})
    src = tmp_path / "crowd.jsonl"
    src.write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    res = runner.invoke(app, ["study", "--report", str(st.dir), "--answers", str(src), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["imported"] == {"r1": 40, "r2": 40}
    assert json.loads((st.dir / "report.json").read_text())["pooled"] == rep["pooled"]
    for who, rows in [("r1", [l for l in lines if l["rater"] == "r1"]), ("r2", [l for l in lines if l["rater"] == "r2"]),
                      ("pooled", lines)]:
        for kind in ("patched", "random"):
            mine = [l for l in rows if st.trials[l["trial"]]["kind"] == kind and l["choice"] != "skip"]
            k = sum(l[l["choice"]] == kind for l in mine)
            got = rep["pooled"][kind] if who == "pooled" else rep["raters"][who][kind]
            ref = binomtest(k, len(mine), 0.5)
            ci = ref.proportion_ci(method="wilson")
            assert (got["n"], got["preferred"]) == (len(mine), k)
            assert got["ci95"] == pytest.approx([ci.low, ci.high], abs=1e-12)
            assert got["p_two_sided"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert "paper" in (st.dir / "report.md").read_text()
    # Importing the same file again changes nothing: the latest answer per rater and pair counts.
    res2 = runner.invoke(app, ["study", "--report", str(st.dir), "--answers", str(src), "--json"])
    assert json.loads(res2.stdout)["pooled"] == rep["pooled"]


def test_wilson_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and 0.6 < lo < 0.8


@pytest.mark.parametrize("line,needle", [
    ('{"trial": 99, "left": "original", "right": "patched", "choice": "left"}', "trial"),
    ('{"trial": 0, "left": "original", "right": "random", "choice": "left"}', "left"),
    ('{"trial": 0, "left": "original", "right": "patched", "choice": "up"}', "choice"),
    ('{"trial": 0, "left": "original", "right": "patched", "choice": "left", "rater": "../x"}', "rater"),
    ("not json", "JSON"),
])
def test_bad_imports_import_nothing(built, tmp_path, line, needle):
    _, _, st = built
    f = tmp_path / "bad.jsonl"
    good = '{"trial": 0, "left": "original", "right": "patched", "choice": "left", "rater": "imp"}'
    f.write_text(good + "\n" + line + "\n")
    res = runner.invoke(app, ["study", "--out", str(st.dir), "--answers", str(f)])
    assert res.exit_code == 2 and needle in res.output and "bad.jsonl:2" in res.output, res.output
    assert not (st.dir / "answers-imp.jsonl").exists()


def test_cli_usage_errors(built, tmp_path):
    spec, ann, st = built
    for args, needle in [(["study"], "GEN"), (["study", str(spec)], "--annotations"),
                         (["study", "--report", str(tmp_path)], "study.json"),
                         (["study", str(spec), "-a", str(ann), "--rater", "a b", "--no-serve"], "rater"),
                         (["study", str(spec), "-a", str(ann), "-n", "0", "--no-serve", "--out", str(tmp_path / "s")], "--samples")]:
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and needle in res.output, (args, res.output)
    with pytest.raises(UsageError, match="different study"):
        AnswerLog(st, "x").append({"trial": 0, "left": "original", "right": st.trials[0]["kind"], "choice": "left"})
        tiny_study(st.dir.parent, samples=3)
