"""The command line: the `anthology` command, `serve`, shell completion, `check --changed`, `import`."""
