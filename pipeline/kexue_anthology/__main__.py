"""`python -m kexue_anthology` runs the `anthology` command."""

import sys

from kexue_anthology.cli.main import main

sys.exit(main())
