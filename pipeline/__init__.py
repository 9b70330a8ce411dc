"""kexue-anthology: turn the posts of 科学空间 (kexue.fm) into checked, typeset collections."""

__version__ = "0.1.0"
