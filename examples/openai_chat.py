"""OpenAI: stream a chat answer, printing the text as it arrives, then the token usage.

With a key:    OPENAI_API_KEY=sk-... python examples/openai_chat.py
Without a key: python examples/openai_chat.py   (a local mock server answers)
"""

from __future__ import annotations

import anyio
from _common import describe_usage, provider_client


async def main() -> None:
    async with provider_client("openai") as client:
        messages = [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Describe the Pacific Ocean in two sentences."},
        ]
        async with client.stream(model="gpt-4o-mini", messages=messages) as stream:
            async for chunk in stream:
                print(chunk.delta, end="", flush=True)
        print()
        response = stream.response
        print(f"finish: {response.finish_reason} | {describe_usage(response.usage)}")


if __name__ == "__main__":
    anyio.run(main)
