"""ganfix: debug and repair trained GAN generators (GAN Dissection, offline-first).

Python API (the CLI is a thin layer over it):
    gen = ganfix.load_generator("toyscenes")            # or a .pt / TorchScript / file.py:factory
    stats = ganfix.tally_unit_stats(gen, "layer4", samples=2000, seed=0)
    ranking = ganfix.rank_units(stats, by="max")
    with ganfix.Intervention(gen.module, "layer4", units=[3, 7], value=0.0):
        images = gen.generate(range(8), seed=0)
"""
from .errors import GanfixError, UsageError
from .generator import Generator, LayerInfo, load_generator
from .hooks import Intervention, Interventions, Trace
from .latents import sample_latents
from .ranking import Ranking, rank_units
from .stats import UnitStats
from .stats.tally import tally_unit_stats
from .workflow import rank

__version__ = "0.1.0"

__all__ = ["GanfixError", "UsageError", "Generator", "LayerInfo", "load_generator", "Intervention",
           "Interventions", "Trace", "sample_latents", "Ranking", "rank_units", "UnitStats", "tally_unit_stats", "rank"]
