"""Reasoning: ask the model to think first, then print its reasoning text and its answer.

``reasoning`` is either an effort (``"low"``, ``"medium"``, ``"high"``) or a
token budget (``{"budget_tokens": 2048}``); each adapter maps it to the
provider's switch (Anthropic ``thinking``, Gemini ``thinkingConfig``, GLM
``thinking``, Ollama ``think``, OpenAI ``reasoning_effort``). Streamed
thinking arrives in ``chunk.reasoning``; afterwards ``response.reasoning``
holds it all (and ``response.message`` carries it, with its signature, to the
next turn). OpenAI's Chat Completions API does not return reasoning text,
only a count of reasoning tokens.

With a key:    ANTHROPIC_API_KEY=... python examples/reasoning.py --provider anthropic
Without a key: python examples/reasoning.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

from typing import Any

import anyio
from _common import describe_usage, pick_provider, provider_client

REASONING_MODELS = {
    "openai": "o4-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "zhipu": "glm-4.6",
    "ollama": "qwen3",
}

# OpenAI takes only an effort level; the others accept a token budget.
REASONING: dict[str, Any] = {"openai": "medium"}


async def main(provider: str) -> None:
    reasoning = REASONING.get(provider, {"budget_tokens": 2048})
    async with provider_client(provider) as client:
        messages = [{"role": "user", "content": "Is 391 a prime number? Answer yes or no."}]
        print(f"reasoning={reasoning!r}")
        async with client.stream(
            model=REASONING_MODELS[provider],
            messages=messages,
            reasoning=reasoning,
            max_tokens=4096,  # must leave room for the budget plus the answer
        ) as stream:
            async for chunk in stream:
                if chunk.reasoning:
                    print(chunk.reasoning, end="", flush=True)
        response = stream.response
        if response.reasoning:
            print(f"\n--- reasoning ({len(response.reasoning)} characters) above; answer:")
        else:
            print(f"({provider} returned no reasoning text) answer:")
        print(response.content)
        print(describe_usage(response.usage))


if __name__ == "__main__":
    anyio.run(main, pick_provider(__doc__.splitlines()[0]))
