"""The serve tests' fixtures; the helpers they share live in serve_support (a module name of its own: a test
that imported ``conftest`` would get whichever conftest.py the run loaded last)."""
from serve_support import runs, server  # noqa: F401  (fixtures)
