"""``python -m evaluate`` runs the command line."""

import sys

from evaluate.cli import main

sys.exit(main())
