"""Reading a JSON file the user named: one UsageError line when it is missing or not JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import UsageError


def read_json(path: str | Path, missing: str, what: str = "") -> Any:
    """The JSON in `path`. No such file: UsageError(missing); not UTF-8 JSON: `malformed <what> <path>: …`."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(missing)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"malformed {what + ' ' if what else ''}{path}: {exc}") from None
