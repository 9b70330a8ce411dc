"""pandoc: the one runner, its JSON AST by name, each post as a pandoc document."""
