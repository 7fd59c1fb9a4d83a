"""The report tests' fixtures; the runs and numbers they share live in report_support (a module name of its own:
a test that imported ``conftest`` would get whichever conftest.py the run loaded last)."""
from report_support import trained, written  # noqa: F401  (fixtures)
