"""Streaming: print each chunk with its arrival time, then time-to-first-token and throughput.

``client.stream(...)`` is an async context manager and an async iterator of
``StreamChunk`` (``delta`` text, ``reasoning``, tool-call fragments, and at
the end ``finish_reason`` and ``usage``). ``stream.response`` is the whole
answer assembled from the chunks; its ``metrics`` hold the timings (``ttft``,
``duration``, ``tokens_per_second``, ...).

With a key:    OPENAI_API_KEY=sk-... python examples/streaming.py
               ANTHROPIC_API_KEY=... python examples/streaming.py --provider anthropic
Without a key: python examples/streaming.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

import anyio
from _common import CHAT_MODELS, describe_usage, pick_provider, provider_client


async def main(provider: str) -> None:
    # delay: the mock pauses 30 ms between chunks, so the stream is visibly a stream.
    async with provider_client(provider, delay=0.03) as client:
        messages = [{"role": "user", "content": "Count from one to ten in words, then say done."}]
        start = anyio.current_time()
        async with client.stream(model=CHAT_MODELS[provider], messages=messages) as stream:
            async for chunk in stream:
                at = 1000 * (anyio.current_time() - start)
                parts = []
                if chunk.reasoning:
                    parts.append(f"reasoning={chunk.reasoning!r}")
                if chunk.delta:
                    parts.append(f"text={chunk.delta!r}")
                if chunk.finish_reason:
                    parts.append(f"finish={chunk.finish_reason}")
                if chunk.usage:
                    parts.append("usage")
                print(f"[+{at:6.1f} ms] {' '.join(parts) or '(header)'}")
        response = stream.response
        print(f"answer: {response.content}")
        metrics = response.metrics
        rate = f"{metrics.tokens_per_second:.0f} tokens/s" if metrics.tokens_per_second else "-"
        print(
            f"ttft {1000 * (metrics.ttft or 0):.1f} ms | {stream.chunk_count} chunks "
            f"in {1000 * (metrics.duration or 0):.0f} ms | {rate}"
        )
        print(describe_usage(response.usage))


if __name__ == "__main__":
    anyio.run(main, pick_provider(__doc__.splitlines()[0]))
