"""The static site: its emitter, navigation and offline search."""
