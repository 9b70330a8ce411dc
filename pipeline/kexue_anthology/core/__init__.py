"""The core: the plain dataclasses between stages, diagnostics, source positions, files written
atomically, the cache, processes, progress.
"""
