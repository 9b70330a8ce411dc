"""The EPUB: its emitter."""
