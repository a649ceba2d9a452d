"""Zhipu GLM: stream a chat answer; GLM-4.5+ think first, so the reasoning streams before the text.

With a key:    ZHIPUAI_API_KEY=... python examples/zhipu_chat.py
Without a key: python examples/zhipu_chat.py   (a local mock server answers)
"""

from __future__ import annotations

import anyio
from _common import describe_usage, provider_client


async def main() -> None:
    async with provider_client("zhipu") as client:
        messages = [{"role": "user", "content": "用一句话介绍长城。"}]
        thinking = False
        async with client.stream(model="glm-4.6", messages=messages) as stream:
            async for chunk in stream:
                if chunk.reasoning:
                    if not thinking:
                        print("(thinking) ", end="")
                        thinking = True
                    print(chunk.reasoning, end="", flush=True)
                if chunk.delta:
                    if thinking:
                        print("\n(answer) ", end="")
                        thinking = False
                    print(chunk.delta, end="", flush=True)
        print()
        response = stream.response
        print(f"finish: {response.finish_reason} | {describe_usage(response.usage)}")


if __name__ == "__main__":
    anyio.run(main)
