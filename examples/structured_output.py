"""Structured output: pass a ``msgspec.Struct`` type as ``response_format``, get ``.parsed``.

The client turns the Struct into a JSON Schema, asks the provider for JSON
that follows it (OpenAI ``json_schema``, Anthropic ``output_config``, Gemini
``responseJsonSchema``, Ollama ``format``, ...), then validates the reply into
an instance of the Struct. A reply that does not match raises
``aa.StructuredOutputError`` (with the raw text), never a half-filled object.

With a key:    OPENAI_API_KEY=sk-... python examples/structured_output.py
Without a key: python examples/structured_output.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

from typing import Literal

import anyio
import msgspec
from _common import CHAT_MODELS, pick_provider, provider_client

import agent_adapter as aa


class City(msgspec.Struct):
    """What we want back: every field is required and typed."""

    name: str
    country: str
    population_millions: float
    continent: Literal["Europe", "Asia", "Africa", "North America", "South America", "Oceania"]
    landmarks: list[str]


async def main(provider: str) -> int:
    async with provider_client(provider) as client:
        messages = [{"role": "user", "content": "Describe Paris as structured data."}]
        try:
            response = await client.chat(
                model=CHAT_MODELS[provider], messages=messages, response_format=City
            )
        except aa.StructuredOutputError as error:
            print(f"the reply did not match City: {error}\nraw reply: {error.raw!r}")
            return 1
        city: City = response.parsed
        print(f"raw JSON: {response.content}")
        print(f"parsed:   {city!r}")
        print(f"{city.name} ({city.country}, {city.continent}): {city.population_millions} million")
        return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, pick_provider(__doc__.splitlines()[0])))
