"""Cancellation: cut a stream short with a deadline or with ``break``; it closes at once.

Leaving the ``async with client.stream(...)`` block early, for any reason
(``break``, an exception, ``anyio.move_on_after`` / ``fail_after``, a task
group being cancelled), closes that stream's connection immediately: the
client does not wait for the rest of the answer, and the provider stops
generating (and billing) it. The client stays usable afterwards.

With a key:    OPENAI_API_KEY=sk-... python examples/cancellation.py
Without a key: python examples/cancellation.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

import anyio
from _common import CHAT_MODELS, pick_provider, provider_client

PROMPT = (
    "Tell me a long story about a lighthouse keeper who finds a message in a bottle, "
    "with at least five paragraphs and plenty of detail about the sea."
)


async def main(provider: str) -> None:
    model = CHAT_MODELS[provider]
    messages = [{"role": "user", "content": PROMPT}]
    # delay: the mock pauses 100 ms between chunks, so the whole answer takes seconds.
    async with provider_client(provider, delay=0.1) as client:
        hello = [{"role": "user", "content": "Hi!"}]
        # 0. A normal call first (it also loads the HTTP machinery and opens a connection).
        response = await client.chat(model=model, messages=hello)
        print(f"a normal call: {response.content!r}")

        # 1. A deadline: stop reading after 0.6 s, wherever the stream is.
        chunks = 0
        text = ""
        with anyio.move_on_after(0.6) as scope:
            async with client.stream(model=model, messages=messages) as stream:
                async for chunk in stream:
                    chunks += 1
                    text += chunk.delta
        late = anyio.current_time() - scope.deadline
        print(f"move_on_after: cancelled={scope.cancelled_caught} after {chunks} chunks: {text!r}")
        print(f"  returned {1000 * late:.1f} ms after the deadline")

        # 2. break: take the first three text chunks, then leave.
        pieces: list[str] = []
        async with client.stream(model=model, messages=messages) as stream:
            async for chunk in stream:
                if chunk.delta:
                    pieces.append(chunk.delta)
                if len(pieces) == 3:
                    broke_at = anyio.current_time()
                    break
        closed = anyio.current_time() - broke_at
        print(f"break: kept {len(pieces)} chunks {pieces!r}")
        print(f"  stream closed {1000 * closed:.1f} ms after the break")
        print(f"  partial response so far: {stream.response.content!r}")

        # 3. The client is unharmed: calls after the cancellations work as before.
        response = await client.chat(model=model, messages=hello)
        print(f"next call still works: {response.content!r}")


if __name__ == "__main__":
    anyio.run(main, pick_provider(__doc__.splitlines()[0]))
