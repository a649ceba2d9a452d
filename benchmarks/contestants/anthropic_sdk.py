"""anthropic-sdk-python: ``AsyncAnthropic`` streaming on the same Anthropic SSE stream.

Variants:

* ``--variant create`` (default): ``messages.create(stream=True)``, raw typed
  events (the SDK skips ``ping``), no accumulation: its lightest path;
* ``--variant stream``: the ``messages.stream()`` helper, which also
  accumulates the message (as our ``ChatStream`` does) and yields extra
  synthesized events (``text``, ``input_json``) besides the raw ones.
"""

from __future__ import annotations

import time

from _common import (
    ANTHROPIC_MESSAGES,
    ANTHROPIC_SYSTEM,
    ANTHROPIC_TOOLS,
    args,
    check,
    data,
    rate_result,
    reps,
    size,
)

NAME = "anthropic-sdk"


def client(base: str):  # type: ignore[no-untyped-def]
    import anthropic

    return anthropic.AsyncAnthropic(api_key="sk-bench", base_url=base, max_retries=0, timeout=120)


KW = {
    "model": data.ANTHROPIC_MODEL,
    "max_tokens": 1024,
    "system": ANTHROPIC_SYSTEM,
    "messages": ANTHROPIC_MESSAGES,
    "tools": ANTHROPIC_TOOLS,
}


async def _create(c, text: list[str] | None = None) -> int:  # type: ignore[no-untyped-def]
    n = 0
    s = await c.messages.create(stream=True, **KW)
    async with s:
        async for event in s:
            n += 1
            is_text = event.type == "content_block_delta" and event.delta.type == "text_delta"
            if text is not None and is_text:
                text.append(event.delta.text)
    return n


async def _helper(c, text: list[str] | None = None) -> int:  # type: ignore[no-untyped-def]
    n = 0
    async with c.messages.stream(**KW) as s:
        async for event in s:
            n += 1
            if text is not None and event.type == "text":
                text.append(event.text)
        final = await s.get_final_message()
    assert final.stop_reason == "tool_use"
    return n


async def anthropic(ns) -> None:  # type: ignore[no-untyped-def]
    variant = ns.variant or "create"
    run = _create if variant == "create" else _helper
    name = f"{NAME} {'create(stream=True)' if variant == 'create' else 'messages.stream()'}"
    n = size(ns, "events")
    stream = data.anthropic_stream(n)
    async with client(f"{ns.base}/a{n}") as c:
        text: list[str] = []
        expected = await run(c, text)
        assert "".join(text) == stream.text, "assembled text differs"
        if variant == "create":
            check(name, expected, stream.events)
        seconds = []
        for _ in reps(ns):
            t0 = time.perf_counter()
            count = await run(c)
            seconds.append(time.perf_counter() - t0)
            check(name, count, expected)
    rate_result(ns, name, n, seconds, count)


def main() -> None:
    import asyncio

    ns = args(["anthropic"])
    asyncio.run(anthropic(ns))


if __name__ == "__main__":
    main()
