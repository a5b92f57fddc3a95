"""Annotation sets: labelled units of one layer of one model, stored as versioned JSON.

One file per model/layer/set (default `annotations/<model>/<layer>-<set>.json`), bound to the
model's fingerprint: applying a set to another model is refused unless forced. Saves are atomic;
a malformed file is reported in one line and left untouched.

Several writers (the labelling page, `ganfix annotate --mark` from a script, an editor) may edit one
file at a time: `update_file` is a read-merge-write under an exclusive lock (fcntl `flock` on the
set's folder) that applies only the one change to what is on disk now, and reports which units
someone else changed since this writer last saw the file. A set path that is a symlink is written
through to its target (the link stays).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json
from .errors import UsageError

SCHEMA = "ganfix.annotations/1"

# Limits of what a file may hold (larger or deeper input is refused in one line, never a crash).
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
MAX_UNITS = 1_000_000
MAX_TEXT_CHARS = 10_000
TOP_KEYS = {"schema", "model", "layer", "set", "num_units", "units", "labels", "created", "updated", "source"}
LABEL_KEYS = {"marked", "text", "time"}
MODEL_KEYS = {"name", "fingerprint", "weights"}
UNIT_KEY = re.compile(r"(0|[1-9][0-9]{0,8})", re.ASCII)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f"[{json.dumps(name, ensure_ascii=True)}]"


def _check_depth(data: Any, where: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (iteratively: no recursion to exhaust)."""
    stack = [(data, 1, "$")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise UsageError(f"malformed annotation file {where} at {path}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1, f"{path}.{_key(str(k))}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_annotation_json(text: str | bytes, where: str) -> Any:
    """JSON text → Python value; every problem (syntax, NaN, size, nesting) is one UsageError line."""
    if len(text) > MAX_FILE_BYTES:
        raise UsageError(f"malformed annotation file {where}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                         "the file was left untouched")
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise UsageError(f"malformed annotation file {where}: nested deeper than {MAX_DEPTH} levels; "
                         "the file was left untouched") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        pos = f" (line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise UsageError(f"malformed annotation file {where}: invalid JSON: {msg}{pos}; the file was left untouched") from None


def read_annotation_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"malformed annotation file {path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                             "the file was left untouched")
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read annotation file {path}: {exc.strerror or exc}") from None
    return parse_annotation_json(data, str(path))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_slug(name: str) -> str:
    """A folder name for a model: the built-in name, or the file stem of a path/factory spec."""
    base = name
    if ":" in base and base.rsplit(":", 1)[0].endswith(".py"):
        file_part, factory = base.rsplit(":", 1)
        base = f"{Path(file_part).stem}-{factory}"
    elif "/" in base or "\\" in base or "." in base:
        base = Path(base).name.split(".")[0] or base
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-") or "model"


def model_identity_slug(gen) -> str:
    """A folder name for a model's identity (factory + weights): a file.py:factory spec loaded with a
    checkpoint gets the checkpoint's stem and the first 8 characters of the fingerprint, so two
    checkpoints of one factory keep separate annotation sets; other specs keep their plain slug."""
    if isinstance(gen, str):
        return model_slug(gen)
    base = model_slug(gen.name)
    weights = getattr(gen, "weights_file", None)
    if weights and weights != gen.name:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(weights).name.split(".")[0]).strip("-") or "weights"
        base = f"{base}--{stem}-{gen.fingerprint[:8]}"
    return base


def default_annotation_path(model, layer: str, set_name: str, root: str | Path = "annotations") -> Path:
    """annotations/<model>/<layer>-<set>.json; `model` is a Generator (its identity: factory + weights)
    or a model name."""
    safe_layer = re.sub(r"[^A-Za-z0-9_.-]+", "-", layer)
    safe_set = re.sub(r"[^A-Za-z0-9_.-]+", "-", set_name)
    return Path(root) / model_identity_slug(model) / f"{safe_layer}-{safe_set}.json"


def _weights_of(gen) -> str | None:
    w = getattr(gen, "weights_file", None)
    return str(w) if w and w != getattr(gen, "name", None) else None


@dataclass
class AnnotationSet:
    model_name: str
    fingerprint: str
    layer: str
    set_name: str = "artifacts"
    labels: dict[int, dict[str, Any]] = field(default_factory=dict)  # unit → {marked, text, time}
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    source: dict[str, Any] = field(default_factory=dict)
    num_units: int | None = None  # the layer's unit count, when known
    weights: str | None = None  # the checkpoint the model's weights came from (file.py:factory --weights)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def new(cls, gen, layer: str, set_name: str = "artifacts", source: dict | None = None) -> "AnnotationSet":
        info = gen.layer(layer)
        return cls(gen.name, gen.fingerprint, layer, set_name, source=dict(source or {}), num_units=info.units,
                   weights=_weights_of(gen))

    @property
    def units(self) -> list[int]:
        return sorted(u for u, lab in self.labels.items() if lab.get("marked"))

    def mark(self, unit: int, marked: bool | None = True, text: str | None = None) -> None:
        unit = int(unit)
        if unit < 0 or (self.num_units is not None and unit >= self.num_units):
            raise UsageError(f"unit index out of range for {self.layer} ({self.num_units} units): {unit}")
        entry = self.labels.setdefault(unit, {"marked": False, "text": ""})
        if marked is not None:
            entry["marked"] = bool(marked)
        if text is not None:
            entry["text"] = str(text)
        entry["time"] = _now()
        if not entry["marked"] and not entry.get("text"):
            del self.labels[unit]
        self.updated = _now()

    # -- checks ---------------------------------------------------------------------------------
    def check_model(self, gen, force: bool = False) -> None:
        if self.fingerprint != gen.fingerprint and not force:
            mine, theirs = self.weights, _weights_of(gen)
            if mine or theirs:  # same factory, other checkpoint: name both weight files
                raise UsageError(f"annotation set is for {self.model_name!r} with weights {mine or '(none recorded)'} "
                                 f"(fingerprint {self.fingerprint}), but this is {gen.name!r} with weights "
                                 f"{theirs or '(none)'} (fingerprint {gen.fingerprint}); label this checkpoint in its own "
                                 "set (the default path differs per checkpoint) or use force=True to apply it anyway")
            raise UsageError(f"annotation set is for model {self.model_name!r} (fingerprint {self.fingerprint}), "
                             f"but {gen.name!r} has fingerprint {gen.fingerprint}; use force=True to apply it anyway")

    def check_layer(self, layer: str) -> None:
        if layer != self.layer:
            raise UsageError(f"annotation set is for layer {self.layer!r}, not {layer!r}")

    def require_units(self) -> list[int]:
        if not self.units:
            raise UsageError(f"annotation set {self.set_name!r} for {self.layer} marks no units; mark some first (ganfix annotate … --mark 3,7)")
        return self.units

    # -- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "model": {"name": self.model_name, "fingerprint": self.fingerprint,
                      **({"weights": self.weights} if self.weights else {})},
            "layer": self.layer,
            "set": self.set_name,
            "num_units": self.num_units,
            "units": self.units,
            "labels": {str(u): self.labels[u] for u in sorted(self.labels)},
            "created": self.created,
            "updated": self.updated,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "annotation set") -> "AnnotationSet":
        """Strict validation: every value has its documented type (a bool is a JSON true/false, never the
        string "false"), unit keys are decimal integers, nesting and size are capped; the error names the
        JSON path of the offending value."""
        def bad(path: str, why: str) -> UsageError:
            return UsageError(f"malformed annotation file {where} at {path}: {why}")

        def got(value: Any) -> str:
            text = json.dumps(value, ensure_ascii=True)
            return text if len(text) <= 60 else text[:57] + "…"

        _check_depth(data, where)
        if not isinstance(data, dict):
            raise bad("$", f"the top level must be a JSON object, got {got(data)}")
        unknown = sorted(set(data) - TOP_KEYS)
        if unknown:
            raise bad(f"$.{_key(unknown[0])}", f"unknown key; valid keys: {', '.join(sorted(TOP_KEYS))}")
        if data.get("schema") != SCHEMA:
            raise bad("$.schema", f"must be {SCHEMA!r}, got {got(data.get('schema'))}")
        model = data.get("model")
        if not isinstance(model, dict):
            raise bad("$.model", f"must be an object {{name, fingerprint}}, got {got(model)}")
        for key in ("name", "fingerprint"):
            if not isinstance(model.get(key), str) or not model[key]:
                raise bad(f"$.model.{key}", f"must be a non-empty string, got {got(model.get(key))}")
        if set(model) - MODEL_KEYS:
            raise bad(f"$.model.{_key(sorted(set(model) - MODEL_KEYS)[0])}", f"unknown key; valid: {', '.join(sorted(MODEL_KEYS))}")
        if model.get("weights") is not None and not isinstance(model["weights"], str):
            raise bad("$.model.weights", f"must be a string (the checkpoint the weights came from) or null, got {got(model['weights'])}")
        if not isinstance(data.get("layer"), str) or not data["layer"]:
            raise bad("$.layer", f"must be a non-empty string, got {got(data.get('layer'))}")
        for key in ("set", "created", "updated"):
            if key in data and not isinstance(data[key], str):
                raise bad(f"$.{key}", f"must be a string, got {got(data[key])}")
        num_units = data.get("num_units")
        if num_units is not None and (not _is_int(num_units) or num_units < 1):
            raise bad("$.num_units", f"must be a positive integer or null, got {got(num_units)}")
        labels_raw = data.get("labels", {})
        if not isinstance(labels_raw, dict):
            raise bad("$.labels", f"must be an object keyed by unit index, got {got(labels_raw)}")
        if len(labels_raw) > MAX_UNITS:
            raise bad("$.labels", f"more than {MAX_UNITS} entries")
        labels: dict[int, dict] = {}
        for key, value in labels_raw.items():
            path = f"$.labels[{json.dumps(key, ensure_ascii=True)}]"
            if not UNIT_KEY.fullmatch(key):
                raise bad(path, "a label key must be a unit index written in decimal digits 0-9 (e.g. \"12\")")
            unit = int(key)
            if num_units is not None and unit >= num_units:
                raise bad(path, f"unit {unit} is out of range for num_units={num_units}")
            if not isinstance(value, dict):
                raise bad(path, f"must be an object {{marked, text, time}}, got {got(value)}")
            extra = sorted(set(value) - LABEL_KEYS)
            if extra:
                raise bad(f"{path}.{_key(extra[0])}", f"unknown key; valid: {', '.join(sorted(LABEL_KEYS))}")
            if "marked" in value and not isinstance(value["marked"], bool):
                raise bad(f"{path}.marked", f"must be true or false (JSON booleans), got {got(value['marked'])}")
            if "text" in value and (not isinstance(value["text"], str) or len(value["text"]) > MAX_TEXT_CHARS):
                raise bad(f"{path}.text", f"must be a string of at most {MAX_TEXT_CHARS} characters, got {got(value['text'])}")
            if "time" in value and not isinstance(value["time"], str):
                raise bad(f"{path}.time", f"must be a string, got {got(value['time'])}")
            if unit in labels:
                raise bad(path, f"unit {unit} appears twice (as {key!r})")
            labels[unit] = {"marked": value.get("marked", False), "text": value.get("text", ""),
                            **({"time": value["time"]} if "time" in value else {})}
        units = data.get("units", [])
        if not isinstance(units, list):
            raise bad("$.units", f"must be a list of unit indices, got {got(units)}")
        if len(units) > MAX_UNITS:
            raise bad("$.units", f"more than {MAX_UNITS} entries")
        for i, u in enumerate(units):
            if not _is_int(u) or u < 0 or u >= MAX_UNITS:
                raise bad(f"$.units[{i}]", f"must be a non-negative integer below {MAX_UNITS}, got {got(u)}")
            if num_units is not None and u >= num_units:
                raise bad(f"$.units[{i}]", f"unit {u} is out of range for num_units={num_units}")
        if "units" in data:  # `units` is authoritative for the marked set (files may be hand-edited)
            for u in units:
                labels.setdefault(u, {"marked": True, "text": ""})
            for u, lab in labels.items():
                lab["marked"] = u in units
        source = data.get("source", {})
        if source is None:
            source = {}
        if not isinstance(source, dict):
            raise bad("$.source", f"must be an object (how the set was made) or null, got {got(source)}")
        return cls(model["name"], model["fingerprint"], data["layer"], data.get("set", "artifacts"), labels,
                   data.get("created", _now()), data.get("updated", _now()), dict(source), num_units,
                   model.get("weights"))

    @classmethod
    def load(cls, path: str | Path) -> "AnnotationSet":
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"annotation file not found: {path}")
        return cls.from_dict(read_annotation_json(path), str(path))

    def save(self, path: str | Path) -> Path:
        """Atomic write; a symlinked path is written through to its target (the link is kept)."""
        atomic_write_json(write_target(path), self.to_dict())
        return Path(path)

    def label_snapshot(self) -> dict[int, tuple[bool, str]]:
        """What a merge compares: (marked, text) per labelled unit."""
        return {u: (bool(lab.get("marked")), str(lab.get("text", ""))) for u, lab in self.labels.items()}


def write_target(path: str | Path) -> Path:
    """The file a write to `path` must replace: the final target of a symlink (chains resolved), else path."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextlib.contextmanager
def file_lock(path: str | Path):
    """Exclusive advisory lock for the set at `path`, across processes and threads: a `flock` on the folder
    that holds its target (no lock file is left beside the set); a no-op where fcntl does not exist (Windows)."""
    target = write_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def external_changes(before: dict[int, tuple[bool, str]], now: dict[int, tuple[bool, str]]) -> list[int]:
    """Units whose label differs between two snapshots (what another writer changed)."""
    return sorted(u for u in set(before) | set(now) if before.get(u) != now.get(u))


def update_file(path: str | Path, current: AnnotationSet, change, known: dict[int, tuple[bool, str]] | None = None
                ) -> tuple[AnnotationSet, list[int]]:
    """Read-merge-write under the set's lock: load the file as it is now (or start from `current` when there
    is none), apply `change(aset)` to it and write it atomically. Returns the merged set and the units another
    writer changed since `known` (this writer's last snapshot; None: do not compare). A file on disk that
    belongs to another model or layer (or is malformed) is refused, never overwritten."""
    path = Path(path)
    with file_lock(path):
        target = write_target(path)
        if target.exists():
            disk = AnnotationSet.load(target)
            if disk.fingerprint != current.fingerprint or disk.layer != current.layer or disk.set_name != current.set_name:
                raise UsageError(f"{path} now holds set {disk.set_name!r} of layer {disk.layer!r} for model fingerprint "
                                 f"{disk.fingerprint}, not the one being edited ({current.set_name!r}, {current.layer!r}, "
                                 f"{current.fingerprint}); not saved — reopen it")
            if disk.num_units is None:
                disk.num_units = current.num_units
        else:
            disk = AnnotationSet.from_dict(current.to_dict(), str(path))
            disk.num_units = current.num_units
        external = external_changes(known, disk.label_snapshot()) if known is not None else []
        change(disk)
        disk.save(path)
    return disk, external
