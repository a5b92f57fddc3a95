"""The typer CLI: a thin layer over the Python API."""
