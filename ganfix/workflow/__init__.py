"""The workflows as Python calls, each returning a result object; the CLI commands, `demo` and `check` call these.

    gen = ganfix.load_generator("toyscenes")
    ranking = ganfix.rank(gen, "layer4", by="sparsity", samples=500)
    result = ganfix.repair(gen, ganfix.Patch("layer4", ranking.top(8)), real="world", features="toyscenes")
"""
from .ace import AceReport, ace
from .check import CheckResult, check
from .dissect import Dissection, dissect
from .export import Export, export
from .rank import rank, ranking_report
from .repair import RepairResult, repair
from .score import Score, score

__all__ = ["AceReport", "ace", "CheckResult", "check", "Dissection", "dissect", "Export", "export", "rank", "ranking_report", "RepairResult", "repair",
           "Score", "score"]
