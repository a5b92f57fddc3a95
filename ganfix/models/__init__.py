"""Generator architectures that ganfix can build, train and load."""
from .progan import ProGAN, progan_from_state_dict, progan_default_widths

__all__ = ["ProGAN", "progan_from_state_dict", "progan_default_widths"]
