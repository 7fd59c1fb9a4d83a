"""``python -m lstmkit ...``: the ``lstmkit`` command (also what ``torchrun -m lstmkit`` runs)."""
import sys

from .cli import main

sys.exit(main())
