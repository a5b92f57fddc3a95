"""The workflows as Python calls, each returning a result object; the CLI commands, `demo` and `check` call these.

    gen = ganfix.load_generator("toyscenes")
    ranking = ganfix.rank(gen, "layer4", by="sparsity", samples=500)
"""
from .rank import rank, ranking_report

__all__ = ["rank", "ranking_report"]
