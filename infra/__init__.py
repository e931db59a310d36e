"""Mailroom's CDK infrastructure: a stack composed of one construct per concern."""

import sys
from pathlib import Path

# The functions' own modules (settings models, adapter constants) are the single source of
# names shared by infra and runtime; make them importable even where the project is not
# installed into the venv.
_FUNCTIONS = str(Path(__file__).resolve().parent.parent / "functions")
if _FUNCTIONS not in sys.path:
    sys.path.insert(0, _FUNCTIONS)
