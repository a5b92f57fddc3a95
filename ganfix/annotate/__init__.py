"""Labelling page: a local, token-protected server over the sheets and one annotation set."""
from .server import LabelServer, safe_file
from .session import LabelSession

__all__ = ["LabelServer", "LabelSession", "safe_file"]
