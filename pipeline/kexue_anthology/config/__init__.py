"""The book's settings: the project file, `anthology.toml`."""
