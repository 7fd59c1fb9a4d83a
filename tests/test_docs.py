"""The docs hold: every example marked runnable runs, the option tables are the parsers' own, links resolve, and the
README stays a README (short, the two set-up commands, no diary)."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```(bash|python) runnable\n(.*?)^```$", re.S | re.M)


def _runnable_blocks():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            yield pytest.param(m.group(1), m.group(2), id=f"{page.name}:{line}")


@pytest.mark.parametrize("language,code", list(_runnable_blocks()))
def test_a_runnable_example_runs(language, code, tmp_path):
    """Each block runs in a fresh copy of docs/examples, with lstmkit on PATH, and must exit 0."""
    work = tmp_path / "examples"
    shutil.copytree(DOCS / "examples", work)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1"}
    argv = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n" \
                                 f"{done.stderr[-3000:]}"


def test_there_are_runnable_examples_for_every_task_guide_and_the_python_api():
    pages = {p.name for p in PAGES if FENCE.search(p.read_text(encoding="utf-8"))}
    assert {"classify.md", "tag.md", "seq2seq.md", "lm.md", "regress.md", "python-api.md"} <= pages


def _options_module():
    spec = importlib.util.spec_from_file_location("docs_options", DOCS / "options.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_option_tables_are_the_parsers_own():
    options = _options_module()
    marked = [p.name for p in PAGES if "<!-- options:" in p.read_text(encoding="utf-8")]
    assert {"classify.md", "tag.md", "seq2seq.md", "lm.md", "regress.md"} <= set(marked)
    stale = options.stale(DOCS)
    assert not stale, f"option tables out of date in {', '.join(stale)}: run `{options.REGENERATE}` and commit"


def test_the_table_generator_sees_every_option_with_its_default():
    table = _options_module().options_table(["train", "classify"])
    assert "| `--out OUT` | required |" in table
    assert re.search(r"\| `--units UNITS` \| `\d+` \|", table)
    assert "`--bidirectional, --no-bidirectional` | on |" in table
    own = _options_module().options_table(["predict", "@seq2seq"])     # only what a seq2seq run adds
    assert "`--beam-size BEAM_SIZE`" in own and "--max-chars" not in own


LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")


def _anchors(page: Path) -> set:
    """GitHub's anchors for a page's headings: lowercase, punctuation dropped, spaces as dashes."""
    heads = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", [ROOT / "README.md", ROOT / "benchmarks" / "RESULTS.md", *PAGES],
                         ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(page):
    bad = []
    for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        path = page.parent / target if target else page
        if not path.exists():
            bad.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            bad.append(f"{target}#{anchor}")
    assert not bad, f"{page.name}: links to missing files or headings: {bad}"


def test_the_readme_is_a_readme():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "make demo" in text and "make test" in text
    assert not re.search(r"session \d+", text, re.I)
    assert "benchmarks/RESULTS.md" in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dates belong in benchmarks/RESULTS.md"
