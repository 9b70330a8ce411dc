"""The EPUB: its emitter, the chapter cache (chapters), XHTML made XML (xhtml), accessibility metadata."""
