"""The errors raised low and caught by the command: kept here, below every layer that raises them."""


class SetupError(RuntimeError):
    """A program or font the build needs is missing: a setup problem, not bad input."""
