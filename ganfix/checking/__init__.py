"""`ganfix check`: quality gates for CI (config → gates → table / JSON / JUnit / GitHub summary)."""
from .config import CheckConfig, Gates, load_config, parse_config
from .gates import GateResult, run_check

__all__ = ["CheckConfig", "Gates", "GateResult", "load_config", "parse_config", "run_check"]
