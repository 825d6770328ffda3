"""The one exception type users see: what went wrong and what to do about it."""

from __future__ import annotations


class KokoroError(Exception):
    """A user-facing error. `str()` is one line: the problem, then the remedy."""

    def __init__(self, problem: str, remedy: str = ""):
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{problem} {remedy}".strip() if remedy else problem)
