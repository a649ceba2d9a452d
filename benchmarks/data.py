"""Deterministic benchmark payloads: request bodies, SSE streams, JSON replies.

Everything here is built from fixed seeds, so the server and every
contestant process build byte-identical data without passing it around.

OpenAI stream (``openai_stream(n)``): ``n`` JSON events plus ``data: [DONE]``,
shaped like a real ``gpt-4o`` stream with ``stream_options.include_usage``:

* event 0: the role header (``{"role":"assistant","content":"","refusal":null}``);
* content deltas: word-sized tokens with JSON escapes (``\\n``, ``\\"``, ``\\\\``,
  ``\\t``), multi-byte UTF-8 (accents, CJK, emoji, typographic quotes) and, on
  every 7th event, ``\\uXXXX`` escapes (as ``ensure_ascii`` servers send);
* a tool-call section (the last ~8%): two calls, each a header fragment with
  ``id``/``type``/``name`` then many ``arguments`` fragments;
* a finish chunk (``finish_reason: "tool_calls"``) and the usage chunk
  (``choices: []``, full ``usage`` with details);
* every event carries ``"usage":null`` and an ``obfuscation`` pad, as OpenAI
  sends, sized so the average event is about 340 bytes.

Anthropic stream (``anthropic_stream(n)``): ``n`` events: ``message_start``,
``ping``, a text block (``content_block_start``, ``text_delta`` ...,
``content_block_stop``), a ``tool_use`` block with ``input_json_delta``
fragments, ``message_delta`` (stop reason + usage) and ``message_stop``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import msgspec

SEED = 20240611
MODEL = "gpt-4o-2024-08-06"
ANTHROPIC_MODEL = "claude-sonnet-4-5"

# Realistic request: a system prompt, a short history and a question (used by every contestant).
MESSAGES: list[dict[str, str]] = [
    {
        "role": "system",
        "content": "You are a concise travel assistant. Answer in plain prose, cite prices in "
        "local currency and mention one practical tip. Use the weather tool when asked about "
        "current conditions.",
    },
    {
        "role": "user",
        "content": "I'm spending three days in Lisbon next month. Where should I stay?",
    },
    {
        "role": "assistant",
        "content": "Baixa and Chiado are central and walkable; Alfama is charming but hilly; "
        "Príncipe Real is quieter with good cafés. Budget roughly €120–€180 a night for a "
        "mid-range hotel.",
    },
    {
        "role": "user",
        "content": "Great. What's the weather like there right now, and should I pack a jacket "
        "for the evenings? Also compare with Porto.",
    },
]

TOOLS: list[dict[str, object]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    }
]

_WORDS = (  # noqa: SIM905
    "the weather in Lisbon is mild this time of year , with evening temperatures "
    "around fifteen degrees and a breeze from the Atlantic so a light jacket is a good "
    "idea . Porto tends to be cooler and wetter ; bring layers and comfortable shoes for "
    "the cobbled streets and steep hills . trams and funiculars help , and the metro is cheap"
).split()
_SPECIAL = [
    " café",
    " naïve",
    " São",
    " Bento",
    " “pastéis",
    " de",
    " nata”",
    " —",
    " 10 €",
    " 東京",
    " 日本語",
    " 🚀",
    " 🌧️",
    "\n\n",
    '"',
    ' "quoted"',
    "\\",
    "\t",
    " ½",
    " naïveté",
]
_NOTE = 'évening — "jacket?" \\ 東京 🚀 line\nbreak, '


def _arguments(rng: random.Random, pieces: int) -> list[str]:
    """A valid JSON arguments document cut into ``pieces`` non-empty fragments (~5.5 chars)."""
    note = (_NOTE * (pieces * 6 // len(_NOTE) + 1))[: max(1, pieces * 5 - 60)]
    doc = json.dumps(
        {"city": "Lisbon, Portugal", "unit": "celsius", "note": note}, ensure_ascii=False
    )
    cuts = sorted(rng.sample(range(1, len(doc)), pieces - 1))
    return [doc[a:b] for a, b in zip([0, *cuts], [*cuts, len(doc)], strict=True)]


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Stream:
    """A pre-built SSE body and what each kind of consumer must count from it."""

    body: bytes
    events: int  # JSON events on the wire (what SDK iterators yield)
    ours: int  # chunks our decoder yields (content-free headers are folded away)
    text: str  # the answer text, to check decoders really decoded it


def _token(rng: random.Random) -> str:
    if rng.random() < 0.18:
        return rng.choice(_SPECIAL)
    return " " + rng.choice(_WORDS)


def _pad(rng: random.Random, size: int) -> str:
    return "".join(rng.choices(_ALNUM, k=size))


def openai_stream(n: int, *, seed: int = SEED) -> Stream:
    """A ``chat.completion.chunk`` SSE body with ``n`` JSON events (see the module docstring)."""
    rng = random.Random(seed + n)
    head = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_eb9dce56a8",
    }
    n_tool = max(4, n * 8 // 100)  # tool-call fragments (both calls, headers included)
    n_text = n - 1 - n_tool - 2  # minus role header, tool section, finish, usage
    assert n_text > 0
    payloads: list[bytes] = []
    text: list[str] = []

    def emit(choices: list[object], usage: object = None, ascii_only: bool = False) -> None:
        obj = dict(head, choices=choices, usage=usage)
        obj["obfuscation"] = _pad(rng, rng.randint(4, 40))
        if ascii_only:
            payloads.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode())
        else:
            payloads.append(msgspec.json.encode(obj))

    def choice(delta: dict[str, object], finish: str | None = None) -> list[object]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    emit(choice({"role": "assistant", "content": "", "refusal": None}))
    for i in range(n_text):
        tok = "".join(_token(rng) for _ in range(rng.randint(1, 3)))
        text.append(tok)
        emit(choice({"content": tok}), ascii_only=i % 7 == 3)
    per_call = n_tool // 2
    for call in range(2):
        count = per_call if call == 0 else n_tool - per_call
        emit(
            choice(
                {
                    "tool_calls": [
                        {
                            "index": call,
                            "id": f"call_{_pad(rng, 24)}",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            )
        )
        for frag in _arguments(rng, count - 1):
            emit(choice({"tool_calls": [{"index": call, "function": {"arguments": frag}}]}))
    emit(choice({}, "tool_calls"))
    usage = {
        "prompt_tokens": 1117,
        "completion_tokens": n,
        "total_tokens": 1117 + n,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    emit([], usage)
    assert len(payloads) == n
    body = b"".join(b"data: " + p + b"\n\n" for p in payloads) + b"data: [DONE]\n\n"
    return Stream(body=body, events=n, ours=n - 1, text="".join(text))


def anthropic_stream(n: int, *, seed: int = SEED) -> Stream:
    """An Anthropic Messages SSE body with ``n`` events (see the module docstring)."""
    rng = random.Random(seed + 7 * n)
    n_json = max(2, n * 8 // 100)
    # message_start, ping, block0 start/stop, block1 start/stop, message_delta, message_stop
    n_text = n - 8 - n_json
    assert n_text > 0
    out: list[bytes] = []
    text: list[str] = []

    def emit(name: str, obj: dict[str, object]) -> None:
        out.append(b"event: " + name.encode() + b"\ndata: " + msgspec.json.encode(obj) + b"\n\n")

    emit(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                "type": "message",
                "role": "assistant",
                "model": ANTHROPIC_MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 1117,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 1024,
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
            },
        },
    )
    emit("ping", {"type": "ping"})
    emit(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    for _ in range(n_text):
        tok = "".join(_token(rng) for _ in range(rng.randint(1, 3)))
        text.append(tok)
        emit(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": tok},
            },
        )
    emit("content_block_stop", {"type": "content_block_stop", "index": 0})
    emit(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "name": "get_weather",
                "input": {},
            },
        },
    )
    for frag in _arguments(rng, n_json):
        emit(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": frag},
            },
        )
    emit("content_block_stop", {"type": "content_block_stop", "index": 1})
    emit(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": n},
        },
    )
    emit("message_stop", {"type": "message_stop"})
    assert len(out) == n
    # SDK iterators skip ``ping``; ours yields message_start, each delta, the tool header and
    # message_delta (block start/stop of text, ping and message_stop carry nothing).
    ours = 1 + n_text + 1 + n_json + 1
    return Stream(body=b"".join(out), events=n - 1, ours=ours, text="".join(text))


def chat_completion() -> bytes:
    """A realistic non-streamed ``chat.completion`` body (about 1 KB)."""
    obj = {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Lisbon is mild right now: about 19 °C in the afternoon and 14 °C "
                    "after sunset, with a breeze off the Tejo, so yes, pack a light jacket. "
                    "Porto runs 2–3 °C cooler and wetter; add a rain shell. Tip: the 28 tram "
                    "is scenic but packed—ride it early (€3 on board, €1.85 with a Viva "
                    'card). "Pastéis de nata" at Manteigaria are worth the queue.',
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1117,
            "completion_tokens": 96,
            "total_tokens": 1213,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_f9f4fb6dbf",
    }
    return msgspec.json.encode(obj)


def read_sizes(total: int, *, seed: int = SEED, low: int = 1, high: int = 8192) -> list[int]:
    """Random network read sizes covering ``total`` bytes (same seed: same split for everyone)."""
    rng = random.Random(seed)
    sizes: list[int] = []
    left = total
    while left > 0:
        size = min(left, rng.randint(low, high))
        sizes.append(size)
        left -= size
    return sizes


def split(body: bytes, *, seed: int = SEED) -> list[bytes]:
    """``body`` cut into random read sizes (see ``read_sizes``)."""
    out: list[bytes] = []
    pos = 0
    for size in read_sizes(len(body), seed=seed):
        out.append(body[pos : pos + size])
        pos += size
    return out


READ_PATTERNS = ("random", "event", "64")


def reads(body: bytes, pattern: str = "random") -> list[bytes]:
    """``body`` cut as a network would deliver it.

    ``random``: random sizes up to 8 KiB (``split``); ``event``: one read per SSE event,
    as a provider's small TCP segments usually arrive; ``64``: fixed 64-byte reads, the
    worst realistic case for per-read overhead.
    """
    if pattern == "random":
        return split(body)
    if pattern == "event":
        out = [part + b"\n\n" for part in body.split(b"\n\n")]
        last = out.pop()  # the text after the final separator (empty for a complete stream)
        assert last == b"\n\n", "stream does not end with a blank line"
        return out
    if pattern == "64":
        return [body[i : i + 64] for i in range(0, len(body), 64)]
    raise ValueError(f"unknown read pattern {pattern!r}")


if __name__ == "__main__":
    for count in (500, 5000, 10000):
        s = openai_stream(count)
        print(f"openai {count}: {len(s.body)} bytes, {len(s.body) / (count + 1):.0f} B/event")
    a = anthropic_stream(5000)
    print(f"anthropic 5000: {len(a.body)} bytes, {len(a.body) / 5000:.0f} B/event")
    print(f"chat.completion: {len(chat_completion())} bytes")
    print(f"reads for 10k: {len(split(openai_stream(10000).body))}")
