"""Reasoning items put back at their places in an assistant turn (sans-IO).

A turn's reasoning (Anthropic's thinking blocks, the Responses API's
reasoning items) is kept beside its text and tool calls with the position it
had among them (``ReasoningItem.index``); sending the turn back means
weaving them together again. One function for every protocol, so they agree
on the odd cases: an item without a position (an older history) goes first,
one past the end (something we do not send back stood there) goes last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["interleave"]

T = TypeVar("T")


def interleave(placed: Sequence[tuple[int | None, T]], others: Sequence[T]) -> list[T]:
    """``others`` in order, with each of ``placed`` at its position (``None``: first)."""
    ordered = sorted(placed, key=lambda pair: -1 if pair[0] is None else pair[0])
    out: list[T] = []
    p = o = 0
    while p < len(ordered) or o < len(others):
        if p < len(ordered):
            index = ordered[p][0]
            if o == len(others) or index is None or index <= len(out):
                out.append(ordered[p][1])
                p += 1
                continue
        out.append(others[o])
        o += 1
    return out
