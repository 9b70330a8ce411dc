"""Diagnostics, Sphinx style: `path:line:col: error: message [code]`.

Stages report into one `Diagnostics` collection and never raise for bad input; the command
counts what was reported and decides the exit status at the end.  Every output names a place
the same way: its file by `core.locations.shown` (relative to the repository's top, given as `root`),
with the line and column of the position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kexue_anthology.core.locations import shown
from kexue_anthology.core.sourcetext import Position


@dataclass
class Diagnostic:
    severity: str             # "error", "warning" or "note" (what was assumed; never fails a run)
    code: str                 # short machine name, e.g. "tex-error", "unknown-label"
    message: str
    position: Position | None = None
    path: str | None = None    # when no line is known (unreadable file)
    source: str | None = None  # the formula, shown under the message

    @property
    def where(self) -> str:
        return self.where_in(None)

    def where_in(self, root: Path | None) -> str:
        """`path:line:col` (`path` alone when no line is known), the path as `shown` from `root`."""
        p = self.position
        if p:
            return f"{shown(p.path, root)}:{p.line}:{p.col}"
        return shown(self.path, root) if self.path else "<input>"

    def shown_path(self, root: Path | None) -> str | None:
        return shown(self.position.path if self.position else self.path or "", root) or None

    def format(self, root: Path | None = None) -> str:
        text = f"{self.where_in(root)}: {self.severity}: {self.message} [{self.code}]"
        if self.source is not None:
            text += "\n" + "\n".join("    " + line for line in self.source.splitlines() or [""])
        return text

    def format_github(self, root: Path | None = None) -> str:
        def escape(s: str) -> str:
            return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

        def escape_property(s: str) -> str:
            return escape(s).replace(":", "%3A").replace(",", "%2C")

        kind = {"error": "error", "note": "notice"}.get(self.severity, "warning")
        props = [f"file={escape_property(self.shown_path(root) or '<input>')}"]
        if self.position:
            props += [f"line={self.position.line}", f"col={self.position.col}"]
        props.append(f"title={escape_property(self.code)}")
        body = self.message + (f"\n{self.source}" if self.source else "")
        return f"::{kind} {','.join(props)}::{escape(body)}"


class Diagnostics:
    """Everything reported during one run, in the order reported."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self.unreadable_input = False

    def error(self, code: str, message: str, position: Position | None = None, *,
              path: str | None = None, source: str | None = None) -> None:
        self.items.append(Diagnostic("error", code, message, position, path, source))

    def warning(self, code: str, message: str, position: Position | None = None, *,
                path: str | None = None, source: str | None = None) -> None:
        self.items.append(Diagnostic("warning", code, message, position, path, source))

    def note(self, code: str, message: str, position: Position | None = None, *, path: str | None = None) -> None:
        """What the tool assumed where the input did not say (`--strict` leaves it a note)."""
        self.items.append(Diagnostic("note", code, message, position, path))

    def input_error(self, path: str, message: str, code: str = "unreadable") -> None:
        """A file that could not be read at all: the run exits 2 at the end."""
        self.unreadable_input = True
        self.error(code, message, path=path)

    def strict(self) -> None:
        for d in self.items:
            if d.severity == "warning":
                d.severity = "error"

    @property
    def errors(self) -> int:
        return sum(d.severity == "error" for d in self.items)

    @property
    def warnings(self) -> int:
        return sum(d.severity == "warning" for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        def key(d: Diagnostic) -> tuple[str, int, int]:
            p = d.position
            return (p.path if p else d.path or "", p.line if p else 0, p.col if p else 0)

        return sorted(self.items, key=key)
