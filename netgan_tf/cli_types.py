"""argparse value types shared by the `netgan` subcommands: each gives a one-line usage error, never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _number(convert: Callable[[str], float], minimum: float, inclusive: bool, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum or (not inclusive and value == minimum):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = _number(int, 1, True, "a positive integer")
nonneg_int = _number(int, 0, True, "an integer >= 0")
positive_float = _number(float, 0.0, False, "a positive number")


def csv_list(text: str) -> list[str]:
    """`a,b,c` -> ["a", "b", "c"] (blank items dropped; at least one required)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of column names")
    return items
