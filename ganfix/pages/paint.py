"""The paint page: the image of one latent, a brush over the layer's grid, the class palette.
Each stroke is applied and re-rendered on the server; the reply carries the new image (PNG data
URL), the segmenter's class pixel counts and the render time."""
from __future__ import annotations

import time
from pathlib import Path

from ..paint import Painting
from .images import data_url, png_bytes
from .server import Page, Session, json_object


class PaintSession(Session):
    def __init__(self, painting: Painting, out_dir: str | Path):
        super().__init__()
        self.painting = painting
        self.out_dir = Path(out_dir)
        self._base: tuple[tuple[int, int], dict] | None = None  # (seed, sample) → counts without edits
        self.saved: str | None = None
        self.last_ms = 0.0

    def _state(self) -> dict:
        p = self.painting
        t0 = time.perf_counter()
        image = p.render()
        counts = p.class_pixels(image)
        png = png_bytes(image)
        self.last_ms = (time.perf_counter() - t0) * 1000
        if self._base is None or self._base[0] != (p.seed, p.sample):
            self._base = ((p.seed, p.sample), counts if not p.edits else p.class_pixels(p.render([])))
        return {"model": {"name": Path(p.gen.name).name, "fingerprint": p.gen.fingerprint}, "layer": p.layer,
                "grid": list(p.grid), "size": list(image.shape[-2:]), "seed": p.seed, "sample": p.sample,
                "palette": [e.to_json() for e in p.palette.entries] if p.palette else [],
                "edits": [{"op": e.op, "class": e.cls, "cells": e.cells} for e in p.edits],
                "can_undo": bool(p.edits), "can_redo": bool(p.redo_stack),
                "image": data_url(png), "counts": counts, "base_counts": self._base[1],
                "render_ms": round(self.last_ms, 1), "saved": self.saved, "out": str(self.out_dir)}

    def stroke(self, body) -> dict:
        """{"op": "add"|"remove", "class": name, "cells": [[row, col], …]}"""
        json_object(body)
        with self._lock:
            self.painting.stroke(body.get("op"), body.get("class"), body.get("cells"))
            return self._state()

    def undo(self, _body) -> dict:
        with self._lock:
            self.painting.undo()
            return self._state()

    def redo(self, _body) -> dict:
        with self._lock:
            self.painting.redo()
            return self._state()

    def sample(self, body) -> dict:
        """{"sample": id} (edits are per image: a new sample starts with none)."""
        json_object(body)
        with self._lock:
            self.painting.new_sample(body.get("sample"))
            self.saved = None
            return self._state()

    def save(self, _body) -> dict:
        with self._lock:
            p = self.painting
            n = 0
            while (folder := self.out_dir / f"sample{p.sample}-seed{p.seed}-{n:03d}").exists():
                n += 1
            result = p.save(folder)
            self.saved = result["folder"]
            return {**self._state(), "save": result}


def paint_page(session: PaintSession) -> Page:
    return Page("paint", state=session.state,
                actions={"stroke": session.stroke, "undo": session.undo, "redo": session.redo,
                         "sample": session.sample, "save": session.save},
                max_body=64 * 1024, title="paint")
