"""Object-level painting (GAN Dissection's interactive editing, GANPaint-style).

A palette maps classes to their causal units at one layer (found by the dissection/ACE machinery)
with per-unit insertion values; a Painting applies strokes — "add" inserts a class's units at the
painted cells of the layer's grid, "remove" ablates them there — re-renders, undoes/redoes, and
saves the image, the edit list and the segmenter's class pixel counts before/after. `replay`
reproduces a saved edit list without a browser.
"""
from .editor import Edit, Painting, replay
from .palette import Palette, PaletteEntry, find_palette, parse_unit_spec
from .start import start_painting

__all__ = ["Edit", "Painting", "Palette", "PaletteEntry", "find_palette", "parse_unit_spec", "replay", "start_painting"]
