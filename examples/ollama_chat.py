"""Ollama (a local model server): stream a chat answer over Ollama's native NDJSON API.

With Ollama running:  OLLAMA_HOST=localhost:11434 python examples/ollama_chat.py
                      (after `ollama pull qwen3`)
Without it:           python examples/ollama_chat.py   (a local mock server answers)
"""

from __future__ import annotations

import anyio
from _common import describe_usage, provider_client


async def main() -> None:
    async with provider_client("ollama") as client:
        messages = [{"role": "user", "content": "Give me a one-line fun fact about owls."}]
        async with client.stream(
            model="qwen3",
            messages=messages,
            extra={"options": {"num_ctx": 8192}},  # Ollama-specific options pass through
        ) as stream:
            async for chunk in stream:
                print(chunk.delta, end="", flush=True)
        print()
        response = stream.response
        print(f"finish: {response.finish_reason} | {describe_usage(response.usage)}")


if __name__ == "__main__":
    anyio.run(main)
