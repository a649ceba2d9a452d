"""The floor's building blocks: typed msgspec structs and the dumbest correct SSE split.

``Splitter.feed`` buffers bytes, cuts at ``b"\\n\\n"``, strips ``data: `` and
decodes each payload with one module-level ``msgspec.json.Decoder(Chunk)``.
It assumes LF line ends and one ``data:`` line per event (true for OpenAI);
it is what a hand-rolled parser for one known server would do, with none
of the SSE spec's generality, so it is a lower bound, not a peer.
"""

from __future__ import annotations

import msgspec


class Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class ToolCall(msgspec.Struct):
    index: int = 0
    id: str | None = None
    type: str | None = None
    function: Function | None = None


class Delta(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(msgspec.Struct):
    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None


class PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None


class Chunk(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[Choice] = []
    usage: Usage | None = None


class Message(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class FullChoice(msgspec.Struct):
    index: int = 0
    message: Message | None = None
    finish_reason: str | None = None


class Completion(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[FullChoice] = []
    usage: Usage | None = None


CHUNK = msgspec.json.Decoder(Chunk)
COMPLETION = msgspec.json.Decoder(Completion)


class Splitter:
    """Incremental ``split(b"\\n\\n")`` + ``data: `` strip + typed decode."""

    __slots__ = ("buf", "done")

    def __init__(self) -> None:
        self.buf = b""
        self.done = False

    def feed(self, data: bytes) -> list[Chunk]:
        buf = self.buf + data if self.buf else data
        parts = buf.split(b"\n\n")
        self.buf = parts.pop()
        out = []
        decode = CHUNK.decode
        for part in parts:
            if part.startswith(b"data: "):
                payload = part[6:]
                if payload == b"[DONE]":
                    self.done = True
                    break
                out.append(decode(payload))
        return out
