"""ganfix's local pages (labelling, preference study, painting) on one small token-protected server."""
from .labelling import LabelSession, labelling_page
from .server import Page, PageServer, check_port, safe_file

__all__ = ["LabelSession", "Page", "PageServer", "check_port", "labelling_page", "safe_file"]
