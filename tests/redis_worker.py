"""Another process sharing a RedisStore: run by test_redis_store.py with ``python redis_worker.py``.

It builds its own Client on its own RedisStore, makes ``calls`` chat calls
against the mock server the test process runs, and prints one JSON line:
what each call ended with, the breaker's state and whether the store was
degraded at the end.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
import msgspec

import agent_adapter as aa


async def main(settings: dict[str, Any]) -> dict[str, Any]:
    outcomes: list[str] = []
    async with aa.RedisStore(settings["url"], prefix=settings["prefix"], timeout=2.0) as store:
        breaker = None
        if settings.get("threshold"):
            breaker = aa.CircuitBreaker(failure_threshold=settings["threshold"], store=store)
        rpm = settings.get("rpm")
        async with aa.Client(
            "openai",
            api_key="sk-test",
            base_url=settings["base_url"],
            retry=0,
            store=store,
            breaker=breaker,
            rate_limit=aa.RateLimit(rpm=rpm, max_wait=0) if rpm else None,
        ) as client:
            for i in range(settings["calls"]):
                messages = [{"role": "user", "content": f"worker {i}"}]
                try:
                    await client.chat(model="gpt-4o", messages=messages)
                    outcomes.append("ok")
                except aa.CircuitOpenError:
                    outcomes.append("circuit_open")
                except aa.RateLimitError as error:
                    outcomes.append("rate_limited" if error.local else "server_429")
                except aa.ServerError:
                    outcomes.append("server_error")
            state = breaker.state(client.deployment_id("gpt-4o")) if breaker else None
        return {"outcomes": outcomes, "state": state, "degraded": store.degraded}


if __name__ == "__main__":
    given = msgspec.json.decode(sys.argv[1])
    result = anyio.run(main, given, backend=given.get("backend", "asyncio"))
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
