"""GAN Dissection: unit/class IoU with IQR thresholds, layer comparison, ACE, insertion context, tracing."""
from .ace import AceResult, ablation_curve, average_causal_effect, insertion_values, present_mask
from .causal_sets import (optimize_unit_mask, select_by_ace, select_by_iou, select_by_mask, single_unit_ace)
from .context import SweepResult, insertion_sweep, later_layers
from .iou import IoUStat, iqr_from_counts
from .result import Criteria, LayerDissection
from .run import dissect, dissect_counts, layer_thresholds, require_spatial
from .thresholds import quantile_fractions, unit_thresholds

__all__ = ["AceResult", "ablation_curve", "average_causal_effect", "insertion_values", "present_mask",
           "optimize_unit_mask", "select_by_ace", "select_by_iou", "select_by_mask", "single_unit_ace",
           "SweepResult", "insertion_sweep", "later_layers", "IoUStat", "iqr_from_counts", "Criteria",
           "LayerDissection", "dissect", "dissect_counts", "layer_thresholds", "require_spatial",
           "quantile_fractions", "unit_thresholds"]
