"""Contact sheets: each unit's top-activating samples with the region where it fires."""
from .build import MANIFEST, build_sheets, load_manifest
from .overlay import fire_mask, overlay, render_tile

__all__ = ["MANIFEST", "build_sheets", "load_manifest", "fire_mask", "overlay", "render_tile"]
