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
# Imports are lazy (PEP 562): `import ganfix` and the CLI's start-up (`ganfix --help`) do not import torch; each
# name below is imported on first use. The workflow functions' names belong to no subpackage (the machinery lives in
# ganfix.checking, ganfix.dissection, ganfix.repairing and ganfix.exporting), so `ganfix.check` & co. are always
# the functions, whatever else has been imported.
import importlib as _importlib

_NAMES = {
    "defaults": (".defaults", None),
    "GanfixError": (".errors", "GanfixError"), "UsageError": (".errors", "UsageError"),
    "Generator": (".generator", "Generator"), "LayerInfo": (".generator", "LayerInfo"),
    "load_generator": (".generator", "load_generator"),
    "Intervention": (".hooks", "Intervention"), "Interventions": (".hooks", "Interventions"), "Trace": (".hooks", "Trace"),
    "sample_latents": (".latents", "sample_latents"),
    "Patch": (".patch", "Patch"),
    "Ranking": (".ranking", "Ranking"), "rank_units": (".ranking", "rank_units"),
    "register_ranker": (".ranking", "register_ranker"),
    "UnitStats": (".stats", "UnitStats"),
    "tally_unit_stats": (".stats.tally", "tally_unit_stats"),
    **{name: (".workflow", name) for name in ("AceReport", "CheckResult", "Dissection", "Export", "RepairResult", "Score",
                                               "ace", "check", "dissect", "export", "rank", "repair", "score")},
}


def __getattr__(name: str):
    target = _NAMES.get(name)
    if target is None:
        raise AttributeError(f"module 'ganfix' has no attribute {name!r}")
    module = _importlib.import_module(target[0], __name__)
    value = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))


__version__ = "0.1.0"

__all__ = ["defaults", "GanfixError", "UsageError", "Generator", "LayerInfo", "load_generator", "Intervention",
           "Interventions", "Trace", "sample_latents", "Patch", "Ranking", "rank_units", "register_ranker",
           "UnitStats", "tally_unit_stats", "rank", "repair", "RepairResult", "export", "Export", "score", "Score",
           "check", "CheckResult", "dissect", "Dissection", "ace", "AceReport"]
