"""The labelling page: the sheet manifest (read only) and one annotation set on disk.

Every change is saved (atomically) before the call returns, under a lock, so concurrent requests
cannot interleave and a killed server loses no acknowledged label.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .server import Page, Session, json_object

MAX_TEXT = 500


class LabelSession(Session):
    def __init__(self, aset, path: Path, manifest: dict, sheets_dir: Path):
        super().__init__()
        self.aset = aset
        self.path = Path(path)
        self.manifest = manifest
        self.sheets_dir = Path(sheets_dir)
        self.valid_units = {int(u["unit"]) for u in manifest["units"]}
        self._known = aset.label_snapshot()  # the labels as this page last saw them on disk
        self.external: list[int] = []        # units another writer changed, found at the last save

    def labels(self) -> dict:
        return {str(k): dict(v) for k, v in self.aset.labels.items()}

    def _state(self) -> dict:
        m = self.manifest
        keep = ("unit", "rank", "of", "by", "score", "top_max", "rate", "file", "plain")
        model = {**m["model"], "name": Path(m["model"]["name"]).name}  # a file spec: its name is enough
        return {"model": model, "layer": m["layer"], "set": self.aset.set_name, "file": str(self.path),
                "units": [{k: u[k] for k in keep} for u in m["units"]],
                "labels": self.labels(), "marked": list(self.aset.units)}

    def update(self, change: dict) -> dict:
        """change: {"unit": int, "marked": bool?, "text": str?} → {"labels", "marked"} after saving."""
        unit = json_object(change).get("unit")
        if not isinstance(unit, int) or isinstance(unit, bool) or unit not in self.valid_units:
            raise UsageError(f"unknown unit {unit!r}")
        marked, text = change.get("marked"), change.get("text")
        if marked is not None and not isinstance(marked, bool):
            raise UsageError("'marked' must be true or false")
        if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
            raise UsageError(f"'text' must be a string of at most {MAX_TEXT} characters")
        if marked is None and text is None:
            raise UsageError("nothing to change: give 'marked' and/or 'text'")
        with self._lock:
            self._save(unit, marked, None if text is None else text.strip())  # None: keep
            note = None
            if self.external:
                note = (f"kept changes made elsewhere to unit{'s' if len(self.external) > 1 else ''} "
                        f"{', '.join(map(str, self.external[:12]))}{' …' if len(self.external) > 12 else ''}")
            return {"labels": self.labels(), "marked": list(self.aset.units), "external": self.external, "note": note}

    def _save(self, unit: int, marked: bool | None, text: str | None) -> None:
        """Apply one change to the file as it is on disk now, under its lock (read-merge-write: a `--mark` from
        another process is kept), and note what others changed. Synchronous: the reply means it is on disk."""
        from ..annotations import update_file

        self.aset, self.external = update_file(self.path, self.aset, lambda s: s.mark(unit, marked=marked, text=text),
                                               self._known)
        self._known = self.aset.label_snapshot()


def labelling_page(session: LabelSession) -> Page:
    """The page `ganfix annotate` serves: GET state, POST /api/label, the sheets under /sheets/."""
    return Page("label", state=session.state, actions={"label": session.update},
                folders={"sheets": session.sheets_dir}, title="label units")
