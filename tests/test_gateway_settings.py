"""The ``[gateway]`` table, client keys and the per-key gates, without a server."""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import agent_adapter as aa
from agent_adapter.gateway import create_app, key_hash, new_key, read_settings
from agent_adapter.gateway.auth import KeyRing, bearer
from agent_adapter.gateway.budget import period
from agent_adapter.gateway.limits import KeyLimits, Refused, Ticket
from agent_adapter.gateway.settings import DEFAULT_MAX_BODY_BYTES, Budget, KeySettings
from agent_adapter.resilience import MemoryStore

HASH = key_hash("aa-one")
GROUPS = ("smart", "fast")


def settings(raw: dict[str, Any], *, allow_direct: bool = False) -> Any:
    return read_settings(raw, groups=GROUPS, allow_direct=allow_direct)


def test_defaults_and_a_full_table() -> None:
    empty = settings({})
    assert empty.keys == () and empty.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 32 * 1024**2
    full = settings(
        {
            "max_body_bytes": 1000,
            "max_in_flight": False,
            "body_timeout": 2,
            "keys": {
                "team-a": {"hash": HASH, "models": ["smart"], "rpm": 5, "tpm": 50, "max_streams": 2}
            },
        }
    )
    assert (full.max_body_bytes, full.max_in_flight, full.body_timeout) == (1000, None, 2.0)
    (key,) = full.keys
    assert key.name == "team-a" and key.models == ("smart",)
    assert (key.rpm, key.tpm, key.max_streams) == (5, 50, 2)
    assert key.digest == hashlib.sha256(b"aa-one").digest()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"port": 1}, "gateway.port: unknown key"),
        ({"keys": {"a": {"hash": HASH, "rate": 1}}}, "gateway.keys.a.rate: unknown key"),
        ({"keys": {"a": {}}}, "gateway.keys.a.hash: is missing"),
        ({"keys": {"a": {"hash": HASH, "rpm": 0}}}, "gateway.keys.a.rpm: must be a positive"),
        (
            {"keys": {"a": {"hash": HASH, "models": []}}},
            "gateway.keys.a.models: must be a non-empty",
        ),
        ({"keys": {"a": {"hash": HASH, "models": ["slow"]}}}, "gateway.keys.a.models[0]: 'slow'"),
        (
            {"keys": {"a": {"hash": HASH, "models": ["openai/gpt-4o"]}}},
            "gateway.keys.a.models[0]: names a provider/model, but allow_direct is off",
        ),
        ({"keys": {"a": {"hash": HASH}, "b": {"hash": HASH}}}, "gateway.keys.b.hash: is the same"),
        ({"max_body_bytes": -1}, "gateway.max_body_bytes: must be a positive integer"),
        ({"body_timeout": "30s"}, "gateway.body_timeout: must be a positive number"),
        ({"keys": []}, "gateway.keys: must be a table"),
        ({"keys": {"a": {"hash": HASH, "budget": 5}}}, "gateway.keys.a.budget: must be a table"),
        ({"keys": {"a": {"hash": HASH, "budget": {}}}}, "gateway.keys.a.budget.usd: is missing"),
        (
            {"keys": {"a": {"hash": HASH, "budget": {"usd": -1}}}},
            "gateway.keys.a.budget.usd: must be a positive number of US dollars",
        ),
        (
            {"keys": {"a": {"hash": HASH, "budget": {"usd": 5, "per": "week"}}}},
            'gateway.keys.a.budget.per: must be "day" or "month"',
        ),
        (
            {"keys": {"a": {"hash": HASH, "budget": {"usd": 5, "eur": 1}}}},
            "gateway.keys.a.budget.eur: unknown key",
        ),
        ({"state": {}}, "gateway.state.url: is missing"),
        ({"state": {"url": "http://x"}}, "gateway.state.url: must be a redis://"),
        ({"state": {"url": "redis://x", "timeout": 0}}, "gateway.state.timeout: must be a"),
        ({"state": {"url": "redis://x", "db": 1}}, "gateway.state.db: unknown key"),
    ],
)
def test_errors_name_their_key_path(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(aa.ValidationError) as info:
        settings(raw)
    assert str(info.value).startswith(message)


def test_budget_and_state_and_a_password_never_shown() -> None:
    read = settings(
        {
            "state": {"url": "redis://:s3cret-pw@redis.internal:6379/0", "timeout": 1},
            "keys": {"a": {"hash": HASH, "budget": {"usd": 5}}, "b": {"hash": key_hash("b")}},
        }
    )
    assert read.keys[0].budget == Budget(usd=5.0, per="day") and read.keys[1].budget is None
    state = read.state
    assert state is not None and state.timeout == 1.0 and state.prefix == "agent-adapter:"
    assert "s3cret" not in repr(state) and "s3cret" not in repr(read)
    assert "redis://***@redis.internal:6379/0" in repr(state)
    with pytest.raises(aa.ValidationError) as info:
        settings({"state": {"url": "s3cret-pw@redis.internal"}})
    assert "s3cret" not in str(info.value)


def test_a_pasted_key_is_never_echoed() -> None:
    key = new_key()
    with pytest.raises(aa.ValidationError) as info:
        settings({"keys": {"a": {"hash": key}}})
    assert key not in str(info.value) and "gateway.keys.a.hash" in str(info.value)


def test_model_patterns() -> None:
    direct = settings(
        {"keys": {"a": {"hash": HASH, "models": ["smart", "openai/*", "groq/llama"]}}},
        allow_direct=True,
    )
    key = direct.keys[0]
    assert key.allows("smart") and key.allows("openai/gpt-4o") and key.allows("groq/llama")
    assert not key.allows("fast") and not key.allows("groq/other") and not key.allows("openai")
    everything = KeySettings(name="b", digest=b"", models=("*",))
    assert everything.allows("anything") and KeySettings(name="c", digest=b"").allows("x")


def test_keys_are_found_by_hash_only() -> None:
    one, two = new_key(), new_key()
    assert one.startswith("aa-") and len(one) == 46 and one != two
    keys = settings({"keys": {"a": {"hash": key_hash(one)}, "b": {"hash": key_hash(two)}}}).keys
    ring = KeyRing(keys)
    assert ring.required and not KeyRing(()).required
    found = ring.find(two)
    assert found is not None and found.name == "b"
    assert ring.find("aa-nope") is None and ring.find(None) is None and ring.find("") is None
    assert bearer(b"Bearer " + one.encode()) == one and bearer(b"bearer  x ") == "x"
    assert bearer(b"Basic abc") is None and bearer(b"Bearer ") is None and bearer(None) is None


@pytest.mark.anyio
async def test_key_limits_refuse_with_retry_after() -> None:
    key = KeySettings(name="a", digest=b"", rpm=1, max_streams=1)
    limits = KeyLimits(key)
    first = Ticket()
    await limits.admit(first, stream=True)
    with pytest.raises(Refused) as busy:  # the stream slot is taken: the bucket is not touched
        await limits.admit(Ticket(), stream=True)
    assert "concurrent stream limit of key 'a'" in busy.value.message
    first.settle()
    with pytest.raises(Refused) as limited:  # the one request a minute is spent
        await limits.admit(Ticket(), stream=True)
    assert "rate limit of key 'a'" in limited.value.message
    assert limited.value.retry_after >= 1
    assert limits.streams is not None and limits.streams.in_flight == 0  # given back


@pytest.mark.anyio
async def test_a_budget_refuses_once_spent_until_the_period_ends() -> None:
    now = [datetime(2026, 12, 1, 23, 0, tzinfo=UTC).timestamp()]
    store = MemoryStore()
    key = KeySettings(name="team-a", digest=b"", rpm=100, budget=Budget(usd=5.0))
    limits = KeyLimits(key, store, clock=lambda: now[0])
    for cost in (3.0, 1.5, None, 0.75):  # unknown cost counts 0
        ticket = Ticket()
        await limits.admit(ticket, stream=False)
        ticket.cost = cost
        ticket.settle()
        ticket.settle()  # charged once
    assert store.get("gateway:spend:team-a:2026-12-01") == 5.25
    with pytest.raises(Refused) as spent:
        await limits.admit(Ticket(), stream=False)
    assert spent.value.message == (
        "key 'team-a' has spent its USD 5.00 budget for 2026-12-01; it resets at 00:00 UTC"
    )
    assert spent.value.retry_after == 3600.0 and spent.value.code == "budget_exceeded"
    now[0] += 3600  # midnight UTC: a new day, a new total
    await limits.admit(Ticket(), stream=False)


@pytest.mark.anyio
async def test_a_monthly_budget_names_its_month_and_the_day_it_resets() -> None:
    now = datetime(2026, 12, 31, 12, 0, tzinfo=UTC).timestamp()
    store = MemoryStore()
    key = KeySettings(name="b", digest=b"", budget=Budget(usd=1.0, per="month"))
    limits = KeyLimits(key, store, clock=lambda: now)
    ticket = Ticket()
    await limits.admit(ticket, stream=True)
    ticket.cost = 1.0
    ticket.settle()
    with pytest.raises(Refused) as spent:
        await limits.admit(Ticket(), stream=True)
    assert "budget for 2026-12; it resets at 00:00 UTC on 2027-01-01" in spent.value.message
    assert spent.value.retry_after == 12 * 3600.0
    assert period(now, "month") == ("2026-12", datetime(2027, 1, 1, tzinfo=UTC))
    assert period(now, "day") == ("2026-12-31", datetime(2027, 1, 1, tzinfo=UTC))


def test_gateway_table_errors_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[models]\nsmart = ["openai/gpt-4o"]\n[gateway.keys.a]\nhash = "sha256:00"\n')
    with pytest.raises(aa.ValidationError, match=r"^gateway\.keys\.a\.hash: must be"):
        create_app(path, env={"OPENAI_API_KEY": "sk-x"})


def test_one_store_holds_the_keys_limits_and_the_routers_state(tmp_path: Path) -> None:
    store = MemoryStore()  # a RedisStore shares them between gateway instances
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[models]\nsmart = [{ model = "openai/gpt-4o", api_key = "env:UP" }]\n'
        f'[gateway.keys.a]\nhash = "{HASH}"\nrpm = 1\n'
    )
    app = create_app(path, env={"UP": "sk-x"}, store=store)
    limits = app._limits["a"]
    assert limits.rate is not None and limits.rate._store is store
    assert app.router.breaker is not None and app.router.breaker._store is store


def test_gateway_state_makes_a_redis_store_without_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[models]\nsmart = [{ model = "openai/gpt-4o", api_key = "env:UP" }]\n'
        '[gateway.state]\nurl = "redis://:pw-secret@127.0.0.1:1/0"\nprefix = "gw:"\n'
        f'[gateway.keys.a]\nhash = "{HASH}"\nrpm = 1\nbudget = {{ usd = 1.0 }}\n'
    )
    app = create_app(path, env={"UP": "sk-x"})
    store = app.store
    assert isinstance(store, aa.RedisStore) and store.prefix == "gw:" and store.degraded
    assert "pw-secret" not in repr(store) and "pw-secret" not in repr(app.settings)
    limits = app._limits["a"]
    assert limits.rate is not None and limits.rate._store is store
    assert limits.spend is not None and limits.spend.store is store
    assert app.router.breaker is not None and app.router.breaker._store is store
    assert app.degraded() is not None  # not started: on local limits, and /readyz says so
    monkeypatch.setitem(sys.modules, "coredis", None)  # as if the extra were not installed
    with pytest.raises(aa.ValidationError, match=r"^gateway\.state\.url: needs the Redis client"):
        create_app(path, env={"UP": "sk-x"})
