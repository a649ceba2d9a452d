"""An OpenAI-compatible service (Groq) through one ``Client()``: the model's prefix picks it.

``aa.Client()`` with no provider routes each call by the model name:
``"groq/llama-3.3-70b-versatile"`` goes to Groq (key from ``GROQ_API_KEY``),
``"deepseek/deepseek-chat"`` would go to DeepSeek, and so on.

With a key:    GROQ_API_KEY=gsk_... python examples/groq_chat.py
Without a key: python examples/groq_chat.py   (a local mock server answers)
"""

from __future__ import annotations

import anyio
from _common import connection, describe_usage

import agent_adapter as aa


async def main() -> None:
    async with connection("groq") as kwargs, aa.Client(**kwargs) as client:
        messages = [{"role": "user", "content": "What is a llama? One sentence."}]
        async with client.stream(model="groq/llama-3.3-70b-versatile", messages=messages) as stream:
            async for chunk in stream:
                print(chunk.delta, end="", flush=True)
        print()
        response = stream.response
        print(f"provider: {response.provider} | model: {response.model}")
        print(describe_usage(response.usage))


if __name__ == "__main__":
    anyio.run(main)
