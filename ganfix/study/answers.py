"""Study answers: one JSON object per line, appended and fsynced before the page moves on.

File per rater: `answers.jsonl` for the default rater, `answers-<rater>.jsonl` otherwise. A line:
{"rater", "trial", "sample", "kind", "left", "right", "choice": "left"|"right"|"skip",
 "preferred": "original"|"patched"|"random"|null, "time", "ms"?, "position"?} — left/right is the
placement the rater saw, position the pair's place in the rater's order. A line cut short by a crash is
ignored when reading (and cut off by the next append); the latest line for a
(rater, trial) counts.
"""
from __future__ import annotations

import json
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UsageError
from .build import Study

DEFAULT_RATER = "default"
CHOICES = ("left", "right", "skip")
_RATER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_LINE = 4096


def check_rater(name: str) -> str:
    if not isinstance(name, str) or not _RATER.match(name) or name in (".", ".."):
        raise UsageError(f"rater name must be 1–64 letters, digits, '.', '_' or '-', got {name!r}")
    return name


def rater_file(study_dir: str | Path, rater: str) -> Path:
    rater = check_rater(rater)
    return Path(study_dir) / ("answers.jsonl" if rater == DEFAULT_RATER else f"answers-{rater}.jsonl")


def answer_files(study_dir: str | Path) -> list[Path]:
    d = Path(study_dir)
    return sorted(p for p in d.glob("answers*.jsonl") if p.is_file()) if d.is_dir() else []


def check_answer(study: Study, rec, where: str) -> dict:
    """A validated answer record (UsageError naming `where` otherwise)."""
    def bad(why: str) -> UsageError:
        return UsageError(f"{where}: {why}")

    if not isinstance(rec, dict):
        raise bad("an answer must be a JSON object")
    rater = rec.get("rater", DEFAULT_RATER)
    try:
        check_rater(rater)
    except UsageError as exc:
        raise bad(str(exc)) from None
    t = rec.get("trial")
    if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < len(study.trials):
        raise bad(f"'trial' must be an integer in 0…{len(study.trials) - 1}, got {t!r}")
    trial = study.trials[t]
    if "sample" in rec and rec["sample"] != trial["sample"]:
        raise bad(f"trial {t} shows sample {trial['sample']}, not {rec['sample']!r}")
    if rec.get("kind", trial["kind"]) != trial["kind"]:
        raise bad(f"trial {t} compares original with {trial['kind']}, not {rec.get('kind')!r}")
    left, right = rec.get("left"), rec.get("right")
    if sorted([str(left), str(right)]) != sorted(["original", trial["kind"]]):
        raise bad(f"'left'/'right' must be 'original' and '{trial['kind']}' (in the order shown), got {left!r}/{right!r}")
    choice = rec.get("choice")
    if choice not in CHOICES:
        raise bad(f"'choice' must be one of {', '.join(CHOICES)}, got {choice!r}")
    ms = rec.get("ms")
    if ms is not None and (not isinstance(ms, (int, float)) or isinstance(ms, bool) or not 0 <= ms < 1e9):
        raise bad(f"'ms' must be a non-negative number of milliseconds, got {ms!r}")
    pos = rec.get("position")
    if pos is not None and (not isinstance(pos, int) or isinstance(pos, bool) or not 0 <= pos < len(study.trials)):
        raise bad(f"'position' must be the pair's index in the rater's order (0…{len(study.trials) - 1}), got {pos!r}")
    preferred = None if choice == "skip" else (left if choice == "left" else right)
    out = {"rater": rater, "trial": t, "sample": trial["sample"], "kind": trial["kind"], "left": left, "right": right,
           "choice": choice, "preferred": preferred, "time": str(rec.get("time") or _now())}
    if ms is not None:
        out["ms"] = ms
    if pos is not None:
        out["position"] = pos
    return out


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_answers(study: Study, path: Path) -> list[dict]:
    """Valid answer lines of one file, in file order (a torn last line from a crash is skipped)."""
    if not path.is_file():
        return []
    out = []
    lines = path.read_bytes().split(b"\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            if n == len(lines):  # only the last line may be torn (killed mid-write)
                continue
            raise UsageError(f"{path}:{n}: not a JSON line; fix or remove it") from None
        out.append(check_answer(study, rec, f"{path}:{n}"))
    return out


def latest(answers: list[dict]) -> dict[tuple[str, int], dict]:
    """{(rater, trial): the last answer given}."""
    return {(a["rater"], a["trial"]): a for a in answers}


class AnswerLog:
    """The append-only answer file of one rater in one study."""

    def __init__(self, study: Study, rater: str = DEFAULT_RATER):
        self.study = study
        self.rater = check_rater(rater)
        self.path = rater_file(study.dir, rater)
        self._lock = threading.Lock()

    def answers(self) -> list[dict]:
        return [a for a in read_answers(self.study, self.path) if a["rater"] == self.rater]

    def append(self, rec: dict) -> dict:
        rec = check_answer(self.study, {**rec, "rater": self.rater}, "answer")
        line = json.dumps(rec, sort_keys=True).encode() + b"\n"
        if len(line) > _MAX_LINE:
            raise UsageError("answer too long")
        with self._lock:
            new = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                _drop_torn_tail(fd, self.path)
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:  # the new directory entry must survive a crash too
                dfd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        return rec


def _drop_torn_tail(fd: int, path: Path) -> None:
    """Cut a last line without its newline (a write killed half-way, never acknowledged to the page)."""
    size = os.fstat(fd).st_size
    if not size:
        return
    with open(path, "rb") as fh:
        fh.seek(max(0, size - _MAX_LINE - 1))
        tail = fh.read()
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    os.ftruncate(fd, size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= _MAX_LINE else size))


def import_answers(study: Study, file: str | Path) -> dict[str, int]:
    """Append the answers of `file` (same line format; e.g. from a crowd platform) to the study's rater files.

    Every line is checked first; one bad line imports nothing. Returns {rater: lines imported}."""
    file = Path(file)
    if not file.is_file():
        raise UsageError(f"answers file not found: {file}")
    recs = []
    for n, line in enumerate(file.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise UsageError(f"{file}:{n}: not a JSON line") from None
        recs.append(check_answer(study, rec, f"{file}:{n}"))
    counts: dict[str, int] = {}
    logs: dict[str, AnswerLog] = {}
    for rec in recs:
        log = logs.setdefault(rec["rater"], AnswerLog(study, rec["rater"]))
        log.append(rec)
        counts[rec["rater"]] = counts.get(rec["rater"], 0) + 1
    return counts



def import_answer_files(study: Study, files) -> list[tuple[Path, str, int]]:
    """import_answers for each file in turn: [(file, rater, lines imported)]."""
    return [(Path(f), rater, n) for f in files for rater, n in import_answers(study, f).items()]
