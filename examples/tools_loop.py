"""Tool calling: a complete agent loop that runs local Python functions until a final answer.

1. Send the conversation and the tool definitions.
2. If the model asks for tools, run the matching Python functions and append
   the assistant's message and one ``tool`` message per call (its result).
3. Repeat until the model answers in text (or a turn limit is hit).

The same code works for every provider: the adapters translate tools, tool
calls and tool results to each wire format (Anthropic ``tool_use`` blocks,
Gemini ``functionCall`` parts, ...).

With a key:    OPENAI_API_KEY=sk-... python examples/tools_loop.py
Without a key: python examples/tools_loop.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import msgspec
from _common import CHAT_MODELS, pick_provider, provider_client

import agent_adapter as aa


def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """A stand-in for a real weather API."""
    celsius = 12 + len(city) % 15
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {"city": city, "temperature": temperature, "unit": unit, "sky": "partly cloudy"}


def get_time(timezone: str) -> dict[str, Any]:
    """A stand-in for a clock lookup."""
    return {"timezone": timezone, "time": "14:05"}


FUNCTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "get_weather": get_weather,
    "get_time": get_time,
}

TOOLS = [
    aa.Tool(
        name="get_weather",
        description="Current weather for a city.",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    ),
    aa.Tool(
        name="get_time",
        description="Current local time in an IANA timezone.",
        parameters={
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "e.g. Europe/Paris"}},
            "required": ["timezone"],
        },
    ),
]


def run_tool(call: aa.ToolCall) -> str:
    """Run one tool call; errors go back to the model as text instead of crashing the loop."""
    function = FUNCTIONS.get(call.name)
    if function is None:
        return f"error: no tool named {call.name!r}"
    try:
        arguments = msgspec.json.decode(call.arguments or "{}")
        result = function(**arguments)
    except (msgspec.DecodeError, TypeError) as error:
        return f"error: bad arguments {call.arguments!r}: {error}"
    return msgspec.json.encode(result).decode()


async def main(provider: str, max_turns: int = 5) -> None:
    async with provider_client(provider) as client:
        messages: list[Any] = [
            {"role": "system", "content": "Use the tools to answer. Be brief."},
            {"role": "user", "content": "What's the weather like in Paris right now?"},
        ]
        print(f"user: {messages[-1]['content']}")
        for turn in range(1, max_turns + 1):
            response = await client.chat(
                model=CHAT_MODELS[provider], messages=messages, tools=TOOLS, max_tokens=1024
            )
            messages.append(response.message)  # the assistant turn, tool calls included
            if not response.tool_calls:
                print(f"final answer (turn {turn}): {response.content}")
                return
            for call in response.tool_calls:
                result = run_tool(call)
                print(f"tool call: {call.name}({call.arguments}) -> {result}")
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "tool_name": call.name,
                        "content": result,
                    }
                )
        print(f"no final answer after {max_turns} turns")


if __name__ == "__main__":
    anyio.run(main, pick_provider(__doc__.splitlines()[0]))
