"""`ganfix check` configuration: TOML (`ganfix.toml` or `[tool.ganfix]` in `pyproject.toml`) → CheckConfig.

Every key is validated up front so a typo or a wrong type is one line and exit 2 before any slow
scoring starts. Relative paths resolve against the config file's folder, not the working directory,
so the same config works from any directory (CI checks out into a different path than a laptop).
"""
from __future__ import annotations

import math
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import defaults
from ..errors import UsageError

CONFIG_NAMES = ("ganfix.toml", "pyproject.toml")

# Default N: on the embedded world this keeps `ganfix check` well under a minute on 2 CPU cores
# (measured; see docs/ci.md). Raise it for real models, where FID at small N is strongly biased.
DEFAULT_SAMPLES = defaults.CHECK_SAMPLES

# key -> (expected type(s), human name of the type); top level.
TOP_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "generator": ((str,), "a string (generator spec)"),
    "weights": ((str,), "a string (path)"),
    "z_shape": ((int, list), "an integer or a list of integers"),
    "output_range": ((list,), "a list [lo, hi]"),
    "image_shape": ((list,), "a list [C, H, W]"),
    "weights_key": ((str,), "a string (dotted key, e.g. netG_state_dict)"),
    "strip_prefix": ((str,), "a string (key prefix, e.g. generator.)"),
    "trust_pickle": ((bool,), "true or false"),
    "features": ((str,), 'a string ("toyscenes", "inception", a registered extractor, or "path/to/extractor.py:factory")'),
    "real": ((str,), 'a string ("world" or a folder of images)'),
    "samples": ((int,), "an integer"),
    "seed": ((int,), "an integer"),
    "device": ((str,), 'a string ("cpu" or "cuda[:i]")'),
    "inception_weights": ((str,), "a string (path)"),
    "random_draws": ((int,), "an integer"),
    "bootstrap": ((int,), "an integer"),
    "gates": ((dict,), "a table [gates]"),
}
GATE_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "max_fid": ((int, float), "a number"),
    "max_kid": ((int, float), "a number"),
    "annotations": ((str,), "a string (path to an annotation set JSON)"),
    "patch_beats_random": ((int, float), "a number (relative FID margin, e.g. 0.10)"),
    "baseline": ((str,), "a string (path to a baseline report JSON)"),
    "tolerance": ((int, float), "a number (relative FID regression allowed, e.g. 0.05)"),
}


@dataclass
class Gates:
    max_fid: float | None = None
    max_kid: float | None = None
    annotations: Path | None = None
    patch_beats_random: float | None = None
    baseline: Path | None = None
    tolerance: float = 0.0

    def enabled(self) -> list[str]:
        """Names of the configured gates, in the order they are evaluated and reported."""
        names = []
        if self.annotations is not None:
            names.append("annotations")
        if self.max_fid is not None:
            names.append("max_fid")
        if self.max_kid is not None:
            names.append("max_kid")
        if self.baseline is not None:
            names.append("baseline")
        if self.patch_beats_random is not None:
            names.append("patch_beats_random")
        return names


@dataclass
class CheckConfig:
    generator: str
    source: Path | None = None  # the config file it came from (None when built in code)
    weights: str | None = None
    z_shape: tuple[int, ...] | None = None
    output_range: tuple[float, float] | None = None
    image_shape: tuple[int, int, int] | None = None  # flat outputs viewed as images, like --image-shape
    weights_key: str | None = None
    strip_prefix: str | None = None
    trust_pickle: bool = False
    features: str = ""  # "": the generator's default (ganfix.defaults.features_for), filled in by parse_config
    real: str = defaults.REAL
    real_as_written: str = defaults.REAL  # for comparing settings: the resolved path differs between checkouts
    samples: int = DEFAULT_SAMPLES
    seed: int = defaults.SEED
    device: str | None = None
    inception_weights: str | None = None
    random_draws: int = defaults.CHECK_RANDOM_DRAWS
    # Bootstrap resamples for the patch gate's interval; each costs one FID per variant (a matrix
    # square root), so the default is kept modest for CI.
    bootstrap: int = defaults.CHECK_BOOTSTRAP

    def __post_init__(self) -> None:
        if not self.features:
            self.features = defaults.features_for(self.generator)
    gates: Gates = field(default_factory=Gates)

    def settings(self) -> dict[str, Any]:
        """What the numbers depend on; a baseline must have been made with the same settings."""
        return {"features": self.features, "real": self.real_as_written, "samples": self.samples, "seed": self.seed}


def find_config(start: Path | None = None) -> Path:
    """`ganfix.toml`, else a `pyproject.toml` with `[tool.ganfix]`, in the current folder or above."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "ganfix.toml").is_file():
            return folder / "ganfix.toml"
        py = folder / "pyproject.toml"
        if py.is_file():
            tool = _read_toml(py).get("tool", {})
            if isinstance(tool, dict) and "ganfix" in tool:
                return py
    raise UsageError(f"no ganfix.toml (or [tool.ganfix] in pyproject.toml) in {here} or above; pass config=FILE")


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from None


def load_config(path: str | Path | None = None) -> CheckConfig:
    """Read and validate a config file (or find one); UsageError with one line on any problem."""
    if path is None:
        path = find_config()
    path = Path(path)
    if not path.exists():
        raise UsageError(f"config file not found: {path}")
    if not path.is_file():
        raise UsageError(f"config path is not a file: {path}")
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        # pyproject.toml style: only [tool.ganfix] is ours, the rest belongs to other tools.
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "ganfix" not in tool:
            raise UsageError(f"{path} has no [tool.ganfix] table")
        data = tool["ganfix"]
        if not isinstance(data, dict):
            raise UsageError(f"{path}: tool.ganfix must be a table [tool.ganfix], got {type(data).__name__} {data!r:.60}")
        where = "[tool.ganfix]"
    else:
        where = ""
    return parse_config(data, base=path.parent, source=path, where=where)


def _check_keys(table: dict, spec: dict, where: str, source: Path | None, elsewhere: tuple[dict, str] | None = None) -> None:
    """`elsewhere`: (the keys of the other table, a hint) for a key written in the wrong table."""
    for key, value in table.items():
        if key not in spec:
            if elsewhere is not None and key in elsewhere[0]:
                raise UsageError(f"{_loc(source, where)}unknown key {key!r}: {elsewhere[1].format(key=key)}")
            raise UsageError(f"{_loc(source, where)}unknown key {key!r}; valid keys: {', '.join(spec)}")
        types, name = spec[key]
        # bool is an int in Python; `max_fid = true` must still be a type error.
        if isinstance(value, bool) and bool not in types:
            raise UsageError(f"{_loc(source, where)}{key} must be {name}, got {value!r}")
        if not isinstance(value, types):
            raise UsageError(f"{_loc(source, where)}{key} must be {name}, got {value!r}")


def _loc(source: Path | None, where: str) -> str:
    parts = [str(source)] if source else []
    if where:
        parts.append(where)
    return (": ".join(parts) + ": ") if parts else ""


def _path(value: str, base: Path, key: str, source: Path | None, where: str) -> Path:
    p = Path(value).expanduser()
    p = p if p.is_absolute() else base / p
    if not p.exists():
        raise UsageError(f"{_loc(source, where)}{key} file not found: {p}")
    return p


def _number(value: float, key: str, source: Path | None, where: str, *, minimum: float | None = 0.0) -> float:
    value = float(value)
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise UsageError(f"{_loc(source, where)}{key} must be a finite number ≥ {minimum:g}, got {value!r}")
    return value


def _looks_like_path(spec: str) -> bool:
    return spec.endswith((".pt", ".pth", ".pkl", ".ts", ".pt2", ".zip")) or "/" in spec or spec.startswith(".")


def parse_config(data: dict, base: Path | None = None, source: Path | None = None, where: str = "") -> CheckConfig:
    """Validate a parsed TOML table (top level of ganfix.toml or [tool.ganfix]) into a CheckConfig."""
    base = base or Path.cwd()
    gwhere = "[tool.ganfix.gates]" if where else "[gates]"
    _check_keys(data, TOP_KEYS, where, source,
                (GATE_KEYS, f"{{key}} is a gate and belongs in the {gwhere} table (write it under the {gwhere} header)"))
    gates_table = data.get("gates", {})
    _check_keys(gates_table, GATE_KEYS, gwhere, source,
                (TOP_KEYS, f"{{key}} is not a gate: write it above the {gwhere} header (in TOML every key after a "
                           "[table] header belongs to that table)"))

    if "generator" not in data:
        raise UsageError(f"{_loc(source, where)}missing required key 'generator' (a generator spec, e.g. \"toyscenes\")")
    generator = data["generator"]
    # A file spec resolves against the config folder; built-in names and file.py:factory stay as given
    # except that the .py part is resolved too.
    if ":" in generator and generator.rsplit(":", 1)[0].endswith(".py"):
        file_part, factory = generator.rsplit(":", 1)
        generator = f"{_path(file_part, base, 'generator', source, where)}:{factory}"
    elif _looks_like_path(generator):
        generator = str(_path(generator, base, "generator", source, where))

    cfg = CheckConfig(generator=generator, source=source)
    if "weights" in data:
        cfg.weights = str(_path(data["weights"], base, "weights", source, where))
    if "z_shape" in data:
        z = data["z_shape"]
        z = [z] if isinstance(z, int) else z
        if not z or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in z):
            raise UsageError(f"{_loc(source, where)}z_shape must be a positive integer or a list of them, got {data['z_shape']!r}")
        cfg.z_shape = tuple(z)
    if "output_range" in data:
        r = data["output_range"]
        if len(r) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r) or not r[0] < r[1]:
            raise UsageError(f"{_loc(source, where)}output_range must be [lo, hi] with lo < hi, got {r!r}")
        cfg.output_range = (float(r[0]), float(r[1]))
    if "image_shape" in data:
        shape = data["image_shape"]
        if len(shape) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
            raise UsageError(f"{_loc(source, where)}image_shape must be [C, H, W] of positive integers, got {shape!r}")
        cfg.image_shape = tuple(shape)
    cfg.weights_key = data.get("weights_key")
    cfg.strip_prefix = data.get("strip_prefix")
    cfg.trust_pickle = data.get("trust_pickle", False)
    from ..registry import get_builtin_generator

    builtin = get_builtin_generator(generator)
    # No silent toy default: a built-in names its own real set and offline extractor; others name theirs.
    cfg.features = data.get("features", builtin.offline_features if builtin and builtin.offline_features else "inception")
    if ":" in cfg.features and cfg.features.rsplit(":", 1)[0].endswith(".py"):
        file_part, factory = cfg.features.rsplit(":", 1)
        cfg.features = f"{_path(file_part, base, 'features', source, where)}:{factory}"
    real = data.get("real", builtin.default_real if builtin else None)
    if real is None:
        raise UsageError(f"{_loc(source, where)}missing key 'real': {generator} is not a built-in generator, so name its "
                         "real images (real = \"path/to/real-images\", or \"world\" for the toy world's scenes on purpose)")
    cfg.real = real if real == "world" else str(_path(real, base, "real", source, where))
    cfg.real_as_written = real
    for key in ("samples", "random_draws", "bootstrap"):
        if key in data:
            if data[key] < 2:
                raise UsageError(f"{_loc(source, where)}{key} must be at least 2, got {data[key]}")
            setattr(cfg, key, data[key])
    if "seed" in data:
        if data["seed"] < 0:
            raise UsageError(f"{_loc(source, where)}seed must be ≥ 0, got {data['seed']}")
        cfg.seed = data["seed"]
    cfg.device = data.get("device")
    if "inception_weights" in data:
        cfg.inception_weights = str(_path(data["inception_weights"], base, "inception_weights", source, where))

    g = cfg.gates
    if "max_fid" in gates_table:
        g.max_fid = _number(gates_table["max_fid"], "max_fid", source, gwhere)
    if "max_kid" in gates_table:
        g.max_kid = _number(gates_table["max_kid"], "max_kid", source, gwhere, minimum=None)
    if "annotations" in gates_table:
        g.annotations = _path(gates_table["annotations"], base, "annotations", source, gwhere)
    if "patch_beats_random" in gates_table:
        g.patch_beats_random = _number(gates_table["patch_beats_random"], "patch_beats_random", source, gwhere)
        if g.annotations is None:
            raise UsageError(f"{_loc(source, gwhere)}patch_beats_random needs annotations = \"…json\" "
                             "(the patch ablates the units of that annotation set)")
    if "baseline" in gates_table:
        # Checked for existence later: --write-baseline may be creating it.
        b = Path(gates_table["baseline"]).expanduser()
        g.baseline = b if b.is_absolute() else base / b
    if "tolerance" in gates_table:
        g.tolerance = _number(gates_table["tolerance"], "tolerance", source, gwhere)
        if g.baseline is None:
            raise UsageError(f"{_loc(source, gwhere)}tolerance only applies with baseline = \"…json\"")
    return cfg
