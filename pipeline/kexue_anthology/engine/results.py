"""The worker's answer about a formula as typed values, read once where its JSON comes in
(or comes back from the verdict cache, which stores the same shape): the verdict, the AMS
numbered rows MathJax journaled (`Tag`) and the references it met (`Ref`), which a formula
keeps (kexue_anthology.core.model)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kexue_anthology.core.model import Ref, Tag

NO_ANSWER = "the MathJax worker gave no answer for this formula (worker crashed)"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    error: str | None      # MathJax's message, None when ok
    tags: tuple[Tag, ...] = ()
    refs: tuple[Ref, ...] = ()
    fault: bool = False       # no verdict on the formula: the worker hung or crashed (never cached)

    @classmethod
    def from_json(cls, answer: Any) -> Verdict:
        """A worker's answer or a cached verdict; a missing or misshapen answer is a fault."""
        if not isinstance(answer, dict):
            return cls(ok=False, error=NO_ANSWER, fault=True)
        ok = bool(answer.get("ok"))
        tags = [t for t in answer.get("tags") or [] if isinstance(t, dict)]
        refs = [r for r in answer.get("refs") or [] if isinstance(r, dict) and isinstance(r.get("label"), str)]
        return cls(ok=ok, error=None if ok else str(answer.get("error")),
                   tags=tuple(Tag(tag=_text(t.get("tag")), star=bool(t.get("star")), label=_text(t.get("label")))
                              for t in tags),
                   refs=tuple(Ref(label=r["label"], eqref=bool(r.get("eqref"))) for r in refs),
                   fault=bool(answer.get("fault")))

    def to_json(self) -> dict[str, Any]:
        """The verdict as the cache stores it (a fault is never stored)."""
        return {"ok": self.ok, "error": self.error,
                "tags": [asdict(t) for t in self.tags], "refs": [asdict(r) for r in self.refs]}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
