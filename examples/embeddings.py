"""Embeddings: ``client.embed`` returns one vector per input; compare them by cosine similarity.

Anthropic has no embeddings endpoint, so this example takes the other providers.

With a key:    OPENAI_API_KEY=sk-... python examples/embeddings.py
Without a key: python examples/embeddings.py [--provider gemini|zhipu|ollama]
               (the mock's vectors are hash-based, so its similarities mean nothing)
"""

from __future__ import annotations

import math

import anyio
from _common import pick_provider, provider_client

EMBED_MODELS = {
    "openai": "text-embedding-3-small",
    "gemini": "gemini-embedding-001",
    "zhipu": "embedding-3",
    "ollama": "embeddinggemma",
}


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity: 1 for the same direction, 0 for unrelated, -1 for opposite."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def main(provider: str) -> None:
    texts = [
        "The cat sat on the mat.",
        "A kitten was resting on the rug.",
        "Interest rates rose by half a percent.",
    ]
    async with provider_client(provider) as client:
        result = await client.embed(model=EMBED_MODELS[provider], input=texts)
    model = result.model or EMBED_MODELS[provider]
    print(f"{len(result.vectors)} vectors of {len(result.vectors[0])} dimensions from {model}")
    for i in range(1, len(texts)):
        similarity = cosine(result.vectors[0], result.vectors[i])
        print(f"cosine({texts[0]!r}, {texts[i]!r}) = {similarity:+.3f}")
    if result.usage:
        print(f"usage: {result.usage.prompt_tokens} input tokens")


if __name__ == "__main__":
    anyio.run(main, pick_provider(__doc__.splitlines()[0], tuple(EMBED_MODELS)))
