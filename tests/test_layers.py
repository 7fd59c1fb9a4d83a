"""The house's layering: imports point down only (STYLE.md), function-level imports included.

``nn`` <- ``text`` <- ``data`` <- ``train`` (the task contract, not the tasks) <- ``tasks`` (and their registry)
<- ``explain``/``export``/``serve``/``cli``/``api``. ``io`` and ``_version`` are below everything; ``convert`` and
``files`` (weight layouts and model files) sit on ``nn``.
"""
import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lstmkit"

# what each part of lstmkit may import from the others (its own modules always)
BASE = {"io", "_version", "packaged", "progress", "checks"}
ALLOWED = {
    "io": set(),
    "_version": set(),
    "packaged": set(),
    "progress": set(),
    "checks": set(),
    "nn": BASE,
    "convert": BASE | {"nn"},
    "files": BASE | {"nn", "convert"},
    "text": BASE | {"nn"},
    "data": BASE | {"nn", "text"},
    "train": BASE | {"nn", "text", "data"},
    "tasks": BASE | {"nn", "text", "data", "train"},
    "export": BASE | {"nn", "convert", "text", "data", "train", "tasks"},
    "explain": BASE | {"nn", "convert", "text", "data", "train", "tasks"},
    "report": BASE | {"nn", "convert", "text", "data", "train", "tasks", "explain"},
    "demo": BASE | {"nn", "text", "explain"},
}
TOP = {"cli", "api", "serve", "__init__", "__main__"}      # may import anything


def _imports(path: Path, part: str, source: str | None = None) -> set[str]:
    """The lstmkit parts ``path`` imports (statically, at any depth of the module)."""
    rel = path.relative_to(SRC).with_suffix("").parts
    package = ["lstmkit", *rel][:-1]
    found = set()
    source = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            if target[0] != "lstmkit":
                continue
            found |= {target[1]} if len(target) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lstmkit.")}
    return found - {part}


def _parts():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("").parts
        yield path, rel[0]


@pytest.mark.parametrize("path,part", list(_parts()), ids=lambda v: str(v).split("lstmkit/")[-1])
def test_imports_point_down(path, part):
    if part in TOP:
        return
    assert part in ALLOWED, f"{part} is not placed in the layering: add it to ALLOWED"
    wrong = _imports(path, part) - ALLOWED[part]
    if path == SRC / "train" / "__init__.py":      # lstmkit.train(...) is the front door too: its call imports api
        wrong -= {"api"}
    assert not wrong, f"{path.relative_to(SRC)} ({part}) imports {sorted(wrong)}, a layer above it"


def test_the_layering_checker_sees_upward_imports():
    # the checker itself can fail: an import of lstmkit.tasks from a text module is seen, at function level too
    source = "def f():\n    from ..tasks import load_run\n    import lstmkit.train.checkpoint\n"
    assert _imports(SRC / "text" / "probe.py", "text", source) == {"tasks", "train"}
    assert _imports(SRC / "text" / "sub" / "probe.py", "text", "from ...data import x\n") == {"data"}


def test_no_import_cycles_between_task_modules():
    # a task module never imports another task's module (shared pieces live in a lower layer)
    tasks = {p.stem for p in (SRC / "tasks").glob("*.py")} - {"__init__", "registry", "loading", "segmenter"}
    families = {t: t.split("_")[0] for t in tasks}      # classify_ensemble belongs to classify
    for name in tasks:
        tree = ast.parse((SRC / "tasks" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in tasks:
                assert families[node.module] == families[name], f"tasks/{name}.py imports tasks/{node.module}.py"


def test_shared_argument_checks_name_the_option():
    from lstmkit.checks import fractions, positive_ints

    positive_ints({"units": 3}, ("units",))
    for bad in (0, -1, 2.0, True, "3"):
        with pytest.raises(ValueError, match=rf"LMConfig: units must be a positive int, got {bad!r}"):
            positive_ints({"units": bad}, ("units",), "LMConfig")
    fractions({"dropout": 0.0}, ("dropout",))
    for bad in (1.0, -0.1, True, None):
        with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
            fractions({"dropout": bad}, ("dropout",))
