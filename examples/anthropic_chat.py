"""Anthropic (Claude): stream a chat answer, printing the text as it arrives, then the usage.

The system prompt is given the OpenAI way (a ``system`` message); the adapter
moves it to Anthropic's top-level ``system`` field. Anthropic requires
``max_tokens``.

With a key:    ANTHROPIC_API_KEY=sk-ant-... python examples/anthropic_chat.py
Without a key: python examples/anthropic_chat.py   (a local mock server answers)
"""

from __future__ import annotations

import anyio
from _common import describe_usage, provider_client


async def main() -> None:
    async with provider_client("anthropic") as client:
        messages = [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Name three uses of a paperclip, one line each."},
        ]
        async with client.stream(
            model="claude-sonnet-4-5", messages=messages, max_tokens=300
        ) as stream:
            async for chunk in stream:
                print(chunk.delta, end="", flush=True)
        print()
        response = stream.response
        print(f"model: {response.model}")
        print(f"finish: {response.finish_reason} (raw: {response.raw_finish_reason})")
        print(describe_usage(response.usage))


if __name__ == "__main__":
    anyio.run(main)
