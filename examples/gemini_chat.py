"""Google Gemini: stream a chat answer, printing the text as it arrives, then the usage.

With a key:    GEMINI_API_KEY=... python examples/gemini_chat.py
Without a key: python examples/gemini_chat.py   (a local mock server answers)
"""

from __future__ import annotations

import anyio
from _common import describe_usage, provider_client


async def main() -> None:
    async with provider_client("gemini") as client:
        messages = [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Why is the sky blue? One short paragraph."},
        ]
        async with client.stream(model="gemini-2.5-flash", messages=messages) as stream:
            async for chunk in stream:
                print(chunk.delta, end="", flush=True)
        print()
        response = stream.response
        print(f"finish: {response.finish_reason} ({response.raw_finish_reason})")
        print(describe_usage(response.usage))


if __name__ == "__main__":
    anyio.run(main)
