"""Streaming, mergeable statistics. Each has add(batch), merge(other), state_dict(), load_state_dict()."""
from .moments import Moments
from .position_sample import PositionSample
from .topk import TopK
from .unit_stats import UnitStats

__all__ = ["Moments", "PositionSample", "TopK", "UnitStats"]
