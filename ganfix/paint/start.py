"""`start_painting`: everything `ganfix paint` does before it serves the page, as one library call."""
from __future__ import annotations

from typing import Sequence, Union

from .. import defaults
from .editor import Painting
from .palette import find_palette, parse_unit_spec


def _classes(classes: Union[str, Sequence[str], None]) -> list[str] | None:
    if isinstance(classes, str):
        classes = classes.split(",")
    wanted = [c.strip() for c in classes or [] if c.strip()]
    return wanted or None


def _fixed(units: Union[dict, Sequence[str], None]) -> dict[str, list[int]]:
    if isinstance(units, dict):
        return {str(k): list(v) for k, v in units.items()}
    return dict(parse_unit_spec(u) for u in units or [])


def start_painting(gen, layer: str, segmenter=None, *, classes: Union[str, Sequence[str], None] = None,
                   units: Union[dict, Sequence[str], None] = None, n: int = 8, select: str = "iou",
                   insert_value: str = "q0.99", samples: int = 200, seed: int = defaults.SEED, sample: int = 0,
                   batch_size: int = 32, use_cache: bool = True, progress=None) -> Painting:
    """A Painting of latent `sample` at `layer`, its palette found with `segmenter` (a name, file.py:factory or a
    Segmenter). `classes`: "tree,door" or a list (default: every class with units at the layer); `units`: explicit
    units per class ({"tree": [48, 9]} or ["tree:48,9"]), which skip the search for that class; `progress`: a
    progress factory (None: stderr, False: silent)."""
    from ..ranking.registry import progress_factory
    from ..segmenters import load_segmenter, require_segmenter
    from ..stats.tally import check_sample_args

    check_sample_args(samples, batch_size)
    fixed, wanted = _fixed(units), _classes(classes)
    segmenter = require_segmenter(gen, segmenter)  # None: a built-in generator's own; required for any other
    seg = load_segmenter(segmenter) if isinstance(segmenter, str) else segmenter
    with progress_factory(progress)("palette: causal units", len(wanted or seg.class_names)) as step:
        pal = find_palette(gen, seg, layer, wanted, n, samples, seed, batch_size, fixed, select, insert_value,
                           use_cache=use_cache, on_step=step)
    painting = Painting(gen, layer, pal, seg, seed, 0)
    painting.new_sample(sample)
    return painting
