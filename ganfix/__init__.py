"""ganfix: debug and repair trained GAN generators (GAN Dissection, offline-first).

Python API (the CLI is a thin layer over it; each workflow returns a result object):
    gen = ganfix.load_generator("toyscenes")            # or a .pt / TorchScript / file.py:factory
    ranking = ganfix.rank(gen, "layer4", by="sparsity", samples=500)        # → Ranking (any registered ranker)
    patch = ganfix.Patch("layer4", ranking.top(8))
    result = ganfix.repair(gen, patch, real="world", features="toyscenes", samples=300)   # → RepairResult
    print(result.verdict(), result.to_json()["patched"])
    ganfix.export(gen, patch, "out/export")                                 # → Export
    dissection = ganfix.dissect(gen, "toyscenes", ["layer4"], samples=200)   # → Dissection
    with ganfix.Intervention(gen.module, "layer4", units=[3, 7], value=0.0):
        images = gen.generate(range(8), seed=0)
"""
# The subpackages ganfix.check, ganfix.dissect, ganfix.export and ganfix.repair are imported before the workflow
# functions of the same names are bound below: importing a submodule for the first time sets the package
# attribute, so the functions must come last to stay what `ganfix.check`, `ganfix.dissect`, … name.
from . import check as _check_pkg, dissect as _dissect_pkg, export as _export_module, repair as _repair_pkg  # noqa: F401
from . import defaults
from .errors import GanfixError, UsageError
from .generator import Generator, LayerInfo, load_generator
from .hooks import Intervention, Interventions, Trace
from .latents import sample_latents
from .patch import Patch
from .ranking import Ranking, rank_units, register_ranker
from .stats import UnitStats
from .stats.tally import tally_unit_stats
from .workflow import (AceReport, CheckResult, Dissection, Export, RepairResult, Score, ace, check, dissect, export, rank,
                       repair, score)

__version__ = "0.1.0"

__all__ = ["defaults", "GanfixError", "UsageError", "Generator", "LayerInfo", "load_generator", "Intervention",
           "Interventions", "Trace", "sample_latents", "Patch", "Ranking", "rank_units", "register_ranker",
           "UnitStats", "tally_unit_stats", "rank", "repair", "RepairResult", "export", "Export", "score", "Score",
           "check", "CheckResult", "dissect", "Dissection", "ace", "AceReport"]
