"""``agent-adapter``: ``demo`` (no key, no network), ``chat`` (a real provider), ``mock``.

Everything is imported inside the command that needs it, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import anyio

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="agent-adapter", description="One async client for every LLM provider."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="stream a tool-calling conversation from a mock server")
    demo.add_argument("--delay", type=float, default=0.02, help="seconds between streamed chunks")

    chat = commands.add_parser("chat", help="stream one answer from a real provider")
    chat.add_argument("-m", "--model", required=True, help="provider/model, e.g. openai/gpt-4o")
    chat.add_argument("-s", "--system", help="system prompt")
    chat.add_argument("--base-url", help="override the provider's base URL")
    chat.add_argument("prompt", help="what to ask")

    mock = commands.add_parser("mock", help="run the mock provider server until Ctrl-C")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=0, help="0 picks a free port")

    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            anyio.run(_demo, args.delay)
        elif args.command == "chat":
            return anyio.run(_chat, args.model, args.prompt, args.system, args.base_url)
        elif args.command == "mock":
            anyio.run(_mock, args.host, args.port)
    except KeyboardInterrupt:
        return 130
    return 0


async def _demo(delay: float) -> None:
    import agent_adapter as aa
    from agent_adapter.testing import MockServer
    from agent_adapter.testing.fake import provider_reply

    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    async with (
        MockServer(handler=lambda request: provider_reply(request, delay=delay)) as server,
        aa.Client("openai", api_key="sk-demo", base_url=server.base_url + "/v1") as client,
    ):
        print(f"mock provider on {server.base_url} (no key, no network)\n")
        print(f"user: {messages[0]['content']}")
        for _turn in range(3):
            async with client.stream(model="gpt-4o", messages=messages, tools=tools) as stream:
                print("assistant: ", end="", flush=True)
                async for chunk in stream:
                    print(chunk.delta, end="", flush=True)
                response = stream.response
            print()
            messages.append(response.message)
            if not response.tool_calls:
                break
            for call in response.tool_calls:
                print(f"  -> tool call {call.name}({call.arguments}) [{call.id}]")
                result = '{"temp_c": 18, "sky": "overcast"}'
                print(f"  <- tool result {result}")
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        usage = response.usage
        elapsed = response.metrics.duration or 0.0
        rate = stream.chunk_count / elapsed if elapsed else 0.0
        print(
            f"\nttft {1000 * (response.metrics.ttft or 0):.1f} ms | {stream.chunk_count} chunks, "
            f"{rate:.0f} chunks/s | usage: "
            + (
                f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
                f"= {usage.total_tokens} tokens"
                if usage
                else "none"
            )
        )


async def _chat(model: str, prompt: str, system: str | None, base_url: str | None) -> int:
    import agent_adapter as aa

    messages = [{"role": "user", "content": prompt}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    try:
        async with aa.Client(base_url=base_url) as client:
            async with client.stream(model=model, messages=messages) as stream:
                async for chunk in stream:
                    print(chunk.delta, end="", flush=True)
            print()
            response = stream.response
            if response.usage:
                print(
                    f"[{response.provider} {response.model}: {response.usage.total_tokens} tokens, "
                    f"ttft {1000 * (response.metrics.ttft or 0):.0f} ms]",
                    file=sys.stderr,
                )
    except aa.AdapterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


async def _mock(host: str, port: int) -> None:
    from agent_adapter.testing import serve_forever
    from agent_adapter.testing.fake import provider_reply

    def ready(bound: int) -> None:
        print(f"mock provider listening on http://{host}:{bound}", flush=True)
        print("base URLs: openai http://HOST/v1, anthropic/gemini/ollama http://HOST", flush=True)

    await serve_forever(host=host, port=port, handler=provider_reply, ready=ready)
