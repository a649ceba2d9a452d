"""Reasoning written into the answer as ``<think>...</think>``, split back out (sans-IO).

Some reasoning models are served without a reasoning field and put their
thinking at the start of the content instead: Zhipu documents this for
GLM-Z1 (and GLM-4.5V) in ``message.content``
(https://docs.bigmodel.cn/api-reference/%E6%A8%A1%E5%9E%8B-api/%E5%AF%B9%E8%AF%9D%E8%A1%A5%E5%85%A8).
Only a *leading* block counts (after optional whitespace): a ``<think>`` tag
later in an answer is the answer's own text. The reasoning is the text between
the tags, trimmed; the content is what follows the closing tag, with its
leading whitespace dropped. A block that never closes (the answer was cut
off) is all reasoning.

``split_think`` does it for a whole text; ``ThinkSplitter`` does the same for
streamed pieces, holding back only what could still be part of a tag or of
whitespace to trim, so the streamed pieces join to exactly what
``split_think`` gives for the whole text, wherever the text was cut.
"""

from __future__ import annotations

__all__ = ["CLOSE", "OPEN", "ThinkSplitter", "split_think"]

OPEN = "<think>"
CLOSE = "</think>"

_START, _THINK, _AFTER, _CONTENT = range(4)


def split_think(text: str) -> tuple[str, str]:
    """``(reasoning, content)`` of a whole text: a leading ``<think>`` block becomes reasoning."""
    stripped = text.lstrip()
    if not stripped.startswith(OPEN):
        return "", text
    rest = stripped[len(OPEN) :]
    end = rest.find(CLOSE)
    if end < 0:
        return rest.strip(), ""
    return rest[:end].strip(), rest[end + len(CLOSE) :].lstrip()


class ThinkSplitter:
    """Streamed text in, ``(reasoning, content)`` increments out; ``end`` releases what it holds."""

    __slots__ = ("_held", "_started", "_state")

    def __init__(self) -> None:
        self._state = _START
        self._held = ""  # text not decided yet
        self._started = False  # some reasoning went out (so its leading whitespace is gone)

    def feed(self, text: str) -> tuple[str, str]:
        """The reasoning and content that ``text`` (appended to what came before) settles."""
        state = self._state
        if state == _CONTENT:
            return "", text
        if state == _AFTER:
            return "", self._after(text)
        if state == _START:
            buffer = self._held + text
            stripped = buffer.lstrip()
            if len(stripped) < len(OPEN) and OPEN.startswith(stripped):
                self._held = buffer  # blank so far, or the start of "<think>"
                return "", ""
            self._held = ""
            if not stripped.startswith(OPEN):
                self._state = _CONTENT
                return "", buffer
            self._state = _THINK
            text = stripped[len(OPEN) :]
        return self._think(text)

    def end(self) -> tuple[str, str]:
        """At the end of the text: what was held back, settled as ``split_think`` would."""
        held, state = self._held, self._state
        self._held, self._state = "", _CONTENT
        if state == _START:
            return "", held
        if state == _THINK:
            reasoning = held.rstrip()
            return (reasoning if self._started else reasoning.lstrip()), ""
        return "", ""

    def _think(self, text: str) -> tuple[str, str]:
        buffer = self._held + text
        if not self._started:
            buffer = buffer.lstrip()
        end = buffer.find(CLOSE)
        if end >= 0:
            self._held = ""
            self._state = _AFTER
            reasoning = buffer[:end].rstrip()
            return reasoning, self._after(buffer[end + len(CLOSE) :])
        keep = _partial_close(buffer)
        settled = buffer[: len(buffer) - keep].rstrip()
        self._held = buffer[len(settled) :]
        if settled:
            self._started = True
        return settled, ""

    def _after(self, text: str) -> str:
        content = text.lstrip()
        if content:
            self._state = _CONTENT
        return content


def _partial_close(text: str) -> int:
    """How many trailing characters of ``text`` could begin a ``</think>`` still to come."""
    for size in range(min(len(CLOSE) - 1, len(text)), 0, -1):
        if CLOSE.startswith(text[-size:]):
            return size
    return 0
