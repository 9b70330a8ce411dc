"""The diagnostic code of a formula's error message: MathJax's own messages, the worker's
faults and our refusals to send a formula at all (`too-complex`, `formula-too-long`)."""

from __future__ import annotations

import re

TOO_COMPLEX = "nested too deeply"
TOO_LONG = "characters, more than"
CODES = [
    (re.compile(TOO_COMPLEX), "too-complex"),
    (re.compile(TOO_LONG), "formula-too-long"),
    (re.compile(r"Undefined control sequence"), "undefined-macro"),
    (re.compile(r"multiply defined"), "duplicate-label"),
    (re.compile(r"took longer than"), "engine-timeout"),
    (re.compile(r"worker crashed"), "engine-crash"),
    (re.compile(r"Unknown environment|Missing \\end|\\begin\{[^}]*\} ended with|Extra \\end"), "environment"),
    (re.compile(r"Missing close brace|Extra close brace|Extra open brace"), "braces"),
    (re.compile(r"\\left|\\right"), "left-right"),
    (re.compile(r"Misplaced &"), "misplaced-ampersand"),
    (re.compile(r"Double exponent|Double subscript"), "double-script"),
]


def error_code(message: str) -> str:
    for pattern, code in CODES:
        if pattern.search(message):
            return code
    return "tex-error"

