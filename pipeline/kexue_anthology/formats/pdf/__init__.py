"""The printable book: its emitter, the book in parts, the merge, its fonts, its structure tree,
Chinese justification.
"""
