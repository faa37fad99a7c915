"""`python -m theon ...` runs the `theon` command (see theon/cli.py)."""
import sys

from .cli import main

sys.exit(main())
