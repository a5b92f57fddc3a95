"""Annotation sets: labelled units of one layer of one model, stored as versioned JSON.

One file per model/layer/set (default `annotations/<model>/<layer>-<set>.json`), bound to the
model's fingerprint: applying a set to another model is refused unless forced. Saves are atomic;
a malformed file is reported in one line and left untouched.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json
from .errors import UsageError

SCHEMA = "ganfix.annotations/1"


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
                                 "set (the default path differs per checkpoint) or use --force to apply it anyway")
            raise UsageError(f"annotation set is for model {self.model_name!r} (fingerprint {self.fingerprint}), "
                             f"but {gen.name!r} has fingerprint {gen.fingerprint}; use --force to apply it anyway")

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
        def bad(why: str) -> UsageError:
            return UsageError(f"malformed annotation file {where}: {why}")

        if not isinstance(data, dict):
            raise bad("top level must be a JSON object")
        if data.get("schema") != SCHEMA:
            raise bad(f"schema must be {SCHEMA!r}, got {data.get('schema')!r}")
        model = data.get("model")
        if not isinstance(model, dict) or not isinstance(model.get("fingerprint"), str) or not isinstance(model.get("name"), str):
            raise bad("model must be {name, fingerprint}")
        if not isinstance(data.get("layer"), str) or not data["layer"]:
            raise bad("layer must be a non-empty string")
        labels_raw = data.get("labels", {})
        if not isinstance(labels_raw, dict):
            raise bad("labels must be an object keyed by unit")
        labels: dict[int, dict] = {}
        for key, value in labels_raw.items():
            if not str(key).isdigit() or not isinstance(value, dict):
                raise bad(f"label key {key!r} must be a unit index with an object value")
            labels[int(key)] = {"marked": bool(value.get("marked", False)), "text": str(value.get("text", "")),
                                **({"time": value["time"]} if "time" in value else {})}
        units = data.get("units", [])
        if not isinstance(units, list) or not all(isinstance(u, int) and not isinstance(u, bool) and u >= 0 for u in units):
            raise bad("units must be a list of non-negative integers")
        if "units" in data:  # `units` is authoritative for the marked set (files may be hand-edited)
            for u in units:
                labels.setdefault(u, {"marked": True, "text": ""})
            for u, lab in labels.items():
                lab["marked"] = u in units
        num_units = data.get("num_units")
        if num_units is not None and (not isinstance(num_units, int) or any(u >= num_units for u in units)):
            raise bad(f"units out of range for num_units={num_units}")
        return cls(model["name"], model["fingerprint"], data["layer"], str(data.get("set", "artifacts")), labels,
                   str(data.get("created", _now())), str(data.get("updated", _now())),
                   dict(data.get("source", {}) or {}), num_units,
                   model["weights"] if isinstance(model.get("weights"), str) else None)

    @classmethod
    def load(cls, path: str | Path) -> "AnnotationSet":
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"annotation file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"malformed annotation file {path}: invalid JSON ({exc.msg if hasattr(exc, 'msg') else exc}); the file was left untouched") from None
        return cls.from_dict(data, str(path))

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())
