"""kexue-anthology: turn the posts of 科学空间 (kexue.fm) into checked, typeset collections."""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"      # package data: the outputs' templates
SAMPLE = PACKAGE / "sample"            # package data: the bundled sample, five listing pages of the blog
