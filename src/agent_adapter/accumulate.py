"""Assembling streamed chunks into one ``ChatResponse``.

Linear in the stream's size: text and argument fragments are appended to
lists and joined once at the end, never re-parsed per delta. Tool-call
fragments are routed by ``index``; ids and names are taken from the first
fragment that carries them, so providers that repeat them on every fragment,
send a whole call in one chunk, or interleave parallel calls all assemble the
same way. A fragment that reuses an index under a *different* id starts a new
call (some compatible servers number every call 0).
"""

from __future__ import annotations

from .types import ChatResponse, FinishReason, ReasoningItem, StreamChunk, ToolCall, Usage


class _CallParts:
    __slots__ = ("arguments", "id", "item_id", "name", "signature")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.item_id: str | None = None
        self.signature: str | None = None
        self.arguments: list[str] = []


class Accumulator:
    """Collects ``StreamChunk``s; ``response()`` gives the assembled answer at any time.

    ``usage`` on a chunk is the running total, so the last one seen wins.
    """

    __slots__ = (
        "_by_index",
        "_calls",
        "_items",
        "_reasoning",
        "_refusal",
        "_text",
        "finish_reason",
        "id",
        "model",
        "raw_finish_reason",
        "signature",
        "usage",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._items: list[ReasoningItem] = []
        self._refusal: list[str] = []
        self._calls: list[_CallParts] = []
        self._by_index: dict[int, _CallParts] = {}
        self.finish_reason: FinishReason | None = None
        self.raw_finish_reason: str | None = None
        self.usage: Usage | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.signature: str | None = None

    def extend(self, chunks: list[StreamChunk]) -> bool:
        """Fold chunks in; return whether any carried content (for TTFT and idle deadlines).

        Most chunks carry only answer text, so that case costs one test and
        an append; everything else goes through ``add``.
        """
        if self.id is None or self.model is None:
            for chunk in chunks:
                self.id, self.model = self.id or chunk.id, self.model or chunk.model
                if self.id and self.model:
                    break
        text = self._text.append
        content = False
        for chunk in chunks:
            if chunk.delta:
                text(chunk.delta)
                content = True
            if (
                chunk.reasoning
                or chunk.tool_calls
                or chunk.finish_reason
                or chunk.usage is not None
                or chunk.refusal
                or chunk.reasoning_signature
                or chunk.reasoning_items
            ):
                self._fold_rest(chunk)
                content = content or chunk.has_content()
        return content

    def add(self, chunk: StreamChunk) -> None:
        """Fold one chunk into the response."""
        if chunk.delta:
            self._text.append(chunk.delta)
        self._fold_rest(chunk)
        if chunk.id and self.id is None:
            self.id = chunk.id
        if chunk.model and self.model is None:
            self.model = chunk.model

    def _fold_rest(self, chunk: StreamChunk) -> None:
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        if chunk.refusal:
            self._refusal.append(chunk.refusal)
        if chunk.tool_calls:
            for fragment in chunk.tool_calls:
                parts = self._by_index.get(fragment.index)
                if parts is None or (
                    fragment.id and parts.id and fragment.id != parts.id and parts.name
                ):
                    parts = _CallParts()
                    self._calls.append(parts)
                    self._by_index[fragment.index] = parts
                if fragment.id and not parts.id:
                    parts.id = fragment.id
                if fragment.name and not parts.name:
                    parts.name = fragment.name
                if fragment.item_id and not parts.item_id:
                    parts.item_id = fragment.item_id
                if fragment.signature and not parts.signature:
                    parts.signature = fragment.signature
                if fragment.arguments:
                    parts.arguments.append(fragment.arguments)
        if chunk.reasoning_signature:
            self.signature = chunk.reasoning_signature
        if chunk.reasoning_items:
            self._items.extend(chunk.reasoning_items)
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            self.raw_finish_reason = chunk.raw_finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage

    @property
    def started(self) -> bool:
        """Whether any content has been folded in yet."""
        return bool(self._text or self._reasoning or self._calls or self._refusal)

    def response(self, provider: str | None = None) -> ChatResponse:
        """The response assembled so far (complete once the stream has ended)."""
        calls = [
            ToolCall(
                id=parts.id or f"call_{n}",
                name=parts.name or "",
                arguments="".join(parts.arguments) or "{}",
                item_id=parts.item_id,
                signature=parts.signature,
            )
            for n, parts in enumerate(self._calls)
        ]
        finish = self.finish_reason
        if calls and finish is not None:
            finish = "tool_calls"  # DESIGN: whatever the provider said
        return ChatResponse(
            content="".join(self._text),
            tool_calls=calls,
            finish_reason=finish,
            raw_finish_reason=self.raw_finish_reason,
            usage=self.usage,
            reasoning="".join(self._reasoning) or None,
            reasoning_signature=self.signature,
            reasoning_items=list(self._items) or None,
            refusal="".join(self._refusal) or None,
            id=self.id,
            model=self.model,
            provider=provider,
        )
