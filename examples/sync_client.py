"""``SyncClient``: the same client for code that is not async (scripts, notebooks, Flask...).

It runs the async ``Client`` on an event loop in a background thread, so
timeouts, retries and streaming behave exactly the same; calls simply block.
Use it with ``with`` (or call ``close()``) to stop that thread.

With a key:    OPENAI_API_KEY=sk-... python examples/sync_client.py
Without a key: python examples/sync_client.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

from _common import CHAT_MODELS, describe_usage, pick_provider, sync_connection

import agent_adapter as aa


def main(provider: str) -> None:
    model = CHAT_MODELS[provider]
    with sync_connection(provider) as kwargs, aa.SyncClient(provider, **kwargs) as client:
        # A whole answer in one blocking call.
        response = client.chat(
            model=model, messages=[{"role": "user", "content": "Say hello in French."}]
        )
        print(f"chat: {response.content}")
        print(describe_usage(response.usage))

        # A stream, iterated with a plain for loop.
        print("stream: ", end="")
        with client.stream(
            model=model, messages=[{"role": "user", "content": "Say hello in Spanish."}]
        ) as stream:
            for chunk in stream:
                print(chunk.delta, end="", flush=True)
        print()
        print(f"finish: {stream.response.finish_reason} | {describe_usage(stream.response.usage)}")


if __name__ == "__main__":
    main(pick_provider(__doc__.splitlines()[0]))
