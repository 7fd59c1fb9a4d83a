"""Argument checks that configs of every layer share: one message each, naming the option and what came."""
from __future__ import annotations


def _values(obj, names) -> list:
    return [(n, obj[n] if isinstance(obj, dict) else getattr(obj, n)) for n in names]


def positive_ints(obj, names, owner: str = "") -> None:
    """Each option ``names`` of ``obj`` (a dataclass or a dict) is an int >= 1 (a bool is not)."""
    for name, v in _values(obj, names):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{owner + ': ' if owner else ''}{name} must be a positive int, got {v!r}")


def fractions(obj, names, owner: str = "") -> None:
    """Each option ``names`` of ``obj`` is a number in [0, 1) (a share: dropout, smoothing)."""
    for name, v in _values(obj, names):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
            raise ValueError(f"{owner + ': ' if owner else ''}{name} must be in [0, 1), got {v!r}")


def output_file(path, option: str, force: bool = False, protected=()) -> None:
    """An error unless ``path`` may be written by the command whose ``option`` names it: never a folder, never
    one of ``protected`` (a run's own files, the inputs), and an existing file only with ``force``."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{option} {path} is a folder; give a file path")
    if p.exists() and any(p.resolve() == Path(q).resolve() for q in protected):
        raise ValueError(f"{option} {path} would write over an input of this command; choose another file")
    if p.exists() and not force:
        raise FileExistsError(f"{option} {path} exists; add --force to replace it")
    if not p.parent.is_dir():
        raise FileNotFoundError(f"{option} {path}: folder {p.parent} not found")


MAX_PARAMETERS = 1_000_000_000     # 4 GB of float32 weights in one module; LSTMKIT_MAX_PARAMS raises it


def parameters_fit(owner: str, count: int, what: str, device=None) -> None:
    """An error, before anything is allocated, when a module would hold more than ``MAX_PARAMETERS`` weights
    (``LSTMKIT_MAX_PARAMS`` in the environment overrides it): a typo such as ``--units 100000`` must not ask for
    160 GB. Modules built on the ``meta`` device (shapes only) are never refused."""
    import os

    if device is not None and str(device) == "meta":
        return
    limit = int(os.environ.get("LSTMKIT_MAX_PARAMS", MAX_PARAMETERS))
    if count > limit:
        raise ValueError(f"{owner} ({what}): {count:,} parameters ({count * 4 / 1e9:,.1f} GB in float32), over the "
                         f"limit of {limit:,}; choose smaller sizes, or set LSTMKIT_MAX_PARAMS to allow more")
