"""Trio: the client is built on anyio, so the same code runs under ``trio.run`` unchanged.

This streams an answer (printing text as it arrives) from inside a trio
program, next to another trio task, to show the client cooperates with
trio's scheduler and cancellation.

With a key:    OPENAI_API_KEY=sk-... python examples/trio_app.py
Without a key: python examples/trio_app.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

import sniffio
import trio
from _common import CHAT_MODELS, describe_usage, pick_provider, provider_client

ticks = 0


async def heartbeat(interval: float) -> None:
    """Another trio task that keeps running while the answer streams in."""
    global ticks
    while True:
        await trio.sleep(interval)
        ticks += 1


async def main(provider: str) -> None:
    async with provider_client(provider, delay=0.02) as client, trio.open_nursery() as nursery:
        print(f"event loop: {sniffio.current_async_library()}")
        nursery.start_soon(heartbeat, 0.01)
        messages = [{"role": "user", "content": "Name the planets of the solar system."}]
        async with client.stream(model=CHAT_MODELS[provider], messages=messages) as stream:
            async for chunk in stream:
                print(chunk.delta, end="", flush=True)
        print()
        nursery.cancel_scope.cancel()  # stop the heartbeat
    response = stream.response
    print(f"ttft {1000 * (response.metrics.ttft or 0):.1f} ms | {describe_usage(response.usage)}")
    print(f"meanwhile the heartbeat task ran {ticks} times")


if __name__ == "__main__":
    trio.run(main, pick_provider(__doc__.splitlines()[0]))
