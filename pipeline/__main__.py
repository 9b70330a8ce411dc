"""`python -m pipeline` runs the `anthology` command."""

import sys

from pipeline.cli import main

sys.exit(main())
