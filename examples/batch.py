"""Batches: many chat calls at once, bounded, results in order, a failure as a value not a crash.

``client.batch(requests, concurrency=4)`` runs the requests with at most four
in flight and returns one result per request: the ``ChatResponse``, or the
``AdapterError`` that request ended with. Then the same for a JSONL file in
OpenAI's Batch format (what ``agent-adapter batch in.jsonl -o out.jsonl``
does): a second run finds every result already there and sends nothing.

With a key:    OPENAI_API_KEY=sk-... python examples/batch.py
Without a key: python examples/batch.py [--provider anthropic|gemini|zhipu|ollama]
"""

from __future__ import annotations

import tempfile

import anyio
import msgspec
from _common import CHAT_MODELS, pick_provider, provider_client

import agent_adapter as aa
from agent_adapter.batchfile import run_file

QUESTIONS = [
    "Name a prime number above 100.",
    "What is the capital of Portugal?",
    "Give one word that rhymes with 'batch'.",
    "Which planet has the most moons?",
    "Translate 'good morning' into Italian.",
]


async def main(provider: str) -> None:
    model = CHAT_MODELS[provider]
    requests = [
        {"model": model, "messages": [{"role": "user", "content": q}], "max_tokens": 200}
        for q in QUESTIONS
    ]
    # One bad request: it fails alone, before any I/O, and the others still run.
    requests.append(
        {"model": model, "messages": [{"role": "user", "content": "hi"}], "temperature": 9}
    )

    progress: list[aa.BatchProgress] = []
    async with provider_client(provider) as client:
        results = await client.batch(requests, concurrency=4, on_progress=progress.append)
        for i, result in enumerate(results, 1):
            if isinstance(result, aa.ChatResponse):
                print(
                    f"{i}. {requests[i - 1]['messages'][0]['content']!r} -> {result.content[:50]!r}"
                )
            else:
                print(f"{i}. failed: {type(result).__name__}: {result}")
        last = progress[-1]
        print(
            f"{last.done - last.failed} answered, {last.failed} failed "
            f"({type(results[-1]).__name__}: {results[-1]}) in {1000 * last.elapsed:.0f} ms"
        )

        # The same requests as an OpenAI Batch input file, run twice.
        with tempfile.TemporaryDirectory() as folder:
            source = anyio.Path(folder, "requests.jsonl")
            out = anyio.Path(folder, "results.jsonl")
            lines = [
                {"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions", "body": r}
                for i, r in enumerate(requests[:3], 1)
            ]
            await source.write_bytes(b"".join(msgspec.json.encode(line) + b"\n" for line in lines))
            first = await run_file(client, source, out, concurrency=4)
            again = await run_file(client, source, out, concurrency=4)
            record = msgspec.json.decode((await out.read_bytes()).splitlines()[0])
            status = record["response"]["status_code"]
            print(
                f"results.jsonl: {first.succeeded} lines; a second run added "
                f"{again.succeeded + again.failed} and skipped {again.skipped}"
            )
            print(f"first line: custom_id={record['custom_id']} status_code={status} "
                  f"object={record['response']['body']['object']}")  # fmt: skip


if __name__ == "__main__":
    anyio.run(main, pick_provider(__doc__.splitlines()[0]))
