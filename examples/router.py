"""Router: one model name over several deployments, with fallback across providers.

``aa.Router`` serves model names of your own ("smart", "fast") from lists of
deployments. Here the first deployment of "smart" is dead on purpose (nothing
listens on port 9), so the call falls back to the next deployment, on another
provider's wire format; "cheap" orders its deployments by price; "broken"
shows what you get when every deployment fails: ``AllProvidersFailedError``
with every error, in the order tried, each naming its deployment.

With keys:     ANTHROPIC_API_KEY=... GEMINI_API_KEY=... python examples/router.py
Without keys:  python examples/router.py   (local mock Anthropic and Gemini servers answer)
"""

from __future__ import annotations

import anyio
from _common import connection, describe_usage

import agent_adapter as aa

DEAD = {"api_key": "sk-unused", "base_url": "http://127.0.0.1:9/v1"}  # connection refused


async def main() -> None:
    async with connection("anthropic") as anthropic, connection("gemini") as gemini:
        claude = aa.Deployment(
            "anthropic/claude-sonnet-4-5", **anthropic, price=aa.Price(input=3.0, output=15.0)
        )
        flash = aa.Deployment(
            "gemini/gemini-2.5-flash", **gemini, price=aa.Price(input=0.3, output=2.5)
        )
        models = {
            "smart": [aa.Deployment("openai/gpt-4o", **DEAD), claude],
            "fast": [flash],
            "broken": [aa.Deployment("openai/gpt-4o", **DEAD), aa.Deployment("openai/o3", **DEAD)],
        }
        router = aa.Router(
            models,
            fallbacks={"smart": ["fast"]},
            retry=aa.RetryPolicy(max_retries=1, initial_backoff=0.05),
            timeouts=aa.Timeouts(total=60),
        )
        cheap = aa.Router({"cheap": [claude, flash]}, strategy="cost", transport=router.transport)
        messages = [{"role": "user", "content": "Name three rivers in one short sentence."}]
        async with router, cheap:
            r = await router.chat(model="smart", messages=messages, max_tokens=200)
            print(f"smart: {r.content}")
            print(f"answered by {r.provider} ({r.model}) | deployment {r.deployment}")
            print(describe_usage(r.usage))

            async with router.stream(model="fast", messages=messages, max_tokens=200) as stream:
                text = "".join([chunk.delta async for chunk in stream])
            print(f"fast, streamed: {text}")
            print(f"streamed by {stream.response.provider} ({stream.response.model})")

            r = await cheap.chat(model="cheap", messages=messages, max_tokens=200)
            print(f"cheap: the cost strategy chose {r.provider}")

            try:
                await router.chat(model="broken", messages=messages)
            except aa.AllProvidersFailedError as error:
                print(f"broken: {len(error.errors)} deployments failed:")
                for i, cause in enumerate(error.errors, 1):
                    print(f"  {i}. {cause.deployment}: {type(cause).__name__}")


if __name__ == "__main__":
    anyio.run(main)
