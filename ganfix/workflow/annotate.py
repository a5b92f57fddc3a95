"""`ganfix annotate` as library calls: open (or start) a layer's annotation set, mark units from a script, and
the ranking that orders a layer's contact sheets."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Union

from ..errors import UsageError
from ..generator import Generator


def open_set(gen: Generator, layer: str, set_name: str = "artifacts", path: Union[str, Path, None] = None,
             force: bool = False, source: Optional[dict] = None):
    """(the annotation set at `path`, path): checked against this model (force=True accepts another fingerprint)
    and layer, or a new empty set when there is no file yet. Default path: annotations/<model>/<layer>-<set>.json."""
    from ..annotations import AnnotationSet, default_annotation_path

    path = Path(path) if path is not None else default_annotation_path(gen, layer, set_name)
    if path.exists():
        aset = AnnotationSet.load(path)
        aset.check_model(gen, force=force)
        aset.check_layer(layer)
        return aset, path
    return AnnotationSet.new(gen, layer, set_name, source=source), path


def default_sheets_dir(gen: Generator, layer: str, set_name: str = "artifacts") -> Path:
    """sheets/<model>/<layer>: where `ganfix annotate` writes a layer's contact sheets unless told otherwise."""
    from ..annotations import default_annotation_path

    return Path("sheets") / default_annotation_path(gen, layer, set_name).parent.name / layer


def mark_units(gen: Generator, layer: str, mark: Iterable[int] = (), unmark: Iterable[int] = (),
               text: Optional[str] = None, set_name: str = "artifacts", path: Union[str, Path, None] = None,
               force: bool = False, source: Optional[dict] = None):
    """Mark (with the label `text`) and unmark units in the annotation set at `path` without sheets or a page;
    read-merge-write under the set's lock, so an open labelling page's saves are kept (and it keeps these).
    Returns (the set as saved, path)."""
    from ..annotations import update_file

    to_mark, to_unmark = gen.check_units(layer, list(mark)), gen.check_units(layer, list(unmark))
    both = set(to_mark) & set(to_unmark)
    if both:
        raise UsageError(f"units both in mark= and unmark=: {', '.join(map(str, sorted(both)))}")
    if text is not None and not to_mark:
        raise UsageError("text labels the units given with mark=; add mark=UNITS")
    aset, path = open_set(gen, layer, set_name, path, force, source)

    def apply(s):
        for u in to_mark:
            s.mark(u, marked=True, text=text)
        for u in to_unmark:
            s.mark(u, marked=False)

    aset, _ = update_file(path, aset, apply)
    return aset, path


def sheet_ranking(gen: Generator, layer: str, by: str, **options):
    """The ranking that orders the sheets when `by` is not computed from the statistics pass the sheets tally
    anyway (ablation, iou, ace, the automatic rankers): a Ranking, or None for max/mean/sparsity. `options`: those
    of ganfix.rank."""
    from ..ranking import StatsRanker, get_ranker
    from .rank import rank

    if isinstance(get_ranker(by)[0], StatsRanker):
        return None
    return rank(gen, layer, by, with_stats=False, **options)
