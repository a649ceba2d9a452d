"""The Router's TOML file: a full valid file, and each class of mistake with its key path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import agent_adapter as aa
from agent_adapter.config import DeploymentConfig, RouterConfig, load_config

ENV = {"OPENAI_API_KEY": "sk-openai-secret", "ANTHROPIC_KEY": "sk-ant-secret"}

FULL = """
strategy = "latency"
allow_direct = true
seed = 7

[timeouts]
connect = 5
total = 60
idle = false

[retry]
max_retries = 3
max_retry_after = 30

[breaker]
failure_threshold = 5
window = 60
reset_timeout = 30.5
half_open_max = 1

[hedge]
delay = "p95"
max_extra = 1

[providers.openai]
api_key = "env:OPENAI_API_KEY"
base_url = "https://api.openai.com/v1"
timeouts = { connect = 3 }

[models]
fast = ["groq/llama-3.3-70b"]

[[models.smart]]
model = "openai/gpt-4o"
rpm = 500
tpm = 30000
timeouts = { total = 30 }

[[models.smart]]
model = "anthropic/claude-sonnet-4-5"
weight = 2
max_concurrency = 8
max_queue = 0
api_key = "env:ANTHROPIC_KEY"
price = { input = 3.0, output = 15, cached_input = 0.3, cache_write = 3.75 }
retry = { max_retries = 1, initial_backoff = 0.25 }

[fallbacks]
smart = ["fast"]

[context_window_fallbacks]
fast = "smart"

[gateway]
listen = "127.0.0.1:8080"
anything = { goes = [1, 2] }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "router.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> RouterConfig:
    return load_config(write(tmp_path, text), env=ENV if env is None else env)


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(aa.ValidationError) as info:
        load(tmp_path, text, env)
    return str(info.value)


MINIMAL = '[models]\nsmart = ["openai/gpt-4o"]\n'


def test_a_full_file_loads_into_plain_values(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert config.strategy == "latency"
    assert config.allow_direct is True
    assert config.seed == 7
    assert config.timeouts == aa.Timeouts(connect=5, total=60, idle=None)
    assert config.retry == aa.RetryPolicy(max_retries=3, max_retry_after=30)
    assert config.breaker == {
        "failure_threshold": 5,
        "half_open_max": 1,
        "window": 60.0,
        "reset_timeout": 30.5,
    }
    assert config.hedge == {"delay": "p95", "max_extra": 1}
    assert config.models["fast"] == (DeploymentConfig("groq/llama-3.3-70b"),)
    gpt, claude = config.models["smart"]
    # Provider defaults apply, tables merge key by key, the deployment's own value wins.
    assert gpt == DeploymentConfig(
        "openai/gpt-4o",
        rpm=500,
        tpm=30000,
        api_key="sk-openai-secret",
        base_url="https://api.openai.com/v1",
        timeouts=aa.Timeouts(connect=3, total=30),
    )
    assert claude.api_key == "sk-ant-secret"
    assert claude.weight == 2
    assert claude.max_concurrency == 8 and claude.max_queue == 0
    assert claude.price == {"input": 3.0, "output": 15.0, "cached_input": 0.3, "cache_write": 3.75}
    assert claude.retry == aa.RetryPolicy(max_retries=1, initial_backoff=0.25)
    assert claude.base_url is None and claude.timeouts is None
    assert config.fallbacks == {"smart": ("fast",)}
    assert config.context_window_fallbacks == {"fast": ("smart",)}
    assert config.content_policy_fallbacks == {}
    assert config.gateway == {"listen": "127.0.0.1:8080", "anything": {"goes": [1, 2]}}


def test_keys_never_show_in_a_repr(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert "secret" not in repr(config)
    assert "secret" not in repr(config.models["smart"][0])


def test_what_the_file_does_not_set_stays_unset(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config == RouterConfig(models={"smart": (DeploymentConfig("openai/gpt-4o"),)})
    assert config.models["smart"][0].settings() == {}


def test_breaker_and_hedge_can_be_turned_off(tmp_path: Path) -> None:
    config = load(tmp_path, "breaker = false\nhedge = false\n" + MINIMAL)
    assert config.breaker is False and config.hedge is False
    config = load(tmp_path, "[breaker]\n[hedge]\ndelay = 1.5\n" + MINIMAL)
    assert config.breaker == {} and config.hedge == {"delay": 1.5}


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_TEST_KEY", "sk-from-environ")
    path = write(
        tmp_path, MINIMAL.replace('"]', '"]\n[providers.openai]\napi_key = "env:AA_TEST_KEY"')
    )
    assert load_config(path).models["smart"][0].api_key == "sk-from-environ"
    assert load_config(str(path)).models["smart"][0].api_key == "sk-from-environ"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Unknown keys, at every level.
        ("strategyy = 'cost'\n" + MINIMAL, "strategyy: unknown key"),
        ("[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\nrpmm = 5\n",
         "models.smart[0].rpmm: unknown key"),
        ("[timeouts]\ntotl = 5\n" + MINIMAL, "timeouts.totl: unknown key"),
        ("[retry]\nretries = 5\n" + MINIMAL, "retry.retries: unknown key"),
        ("[breaker]\nthreshold = 5\n" + MINIMAL, "breaker.threshold: unknown key"),
        ("[hedge]\nafter = 1\n" + MINIMAL, "hedge.after: unknown key"),
        ("[providers.openai]\nweight = 2\n" + MINIMAL, "providers.openai.weight: unknown key"),
        ("[providers.opnai]\n" + MINIMAL, "providers.opnai: unknown provider; known: openai,"),
        (MINIMAL + "[[models.deep]]\nmodel = 'openai/o3'\nprice = {input = 1, cache = 1}\n",
         "models.deep[0].price.cache: unknown key"),
        # Wrong types and values.
        ("strategy = 'fastest'\n" + MINIMAL, "strategy: must be one of cost, latency,"),
        ("allow_direct = 'yes'\n" + MINIMAL, "allow_direct: must be true or false"),
        ("seed = 1.5\n" + MINIMAL, "seed: must be an integer"),
        ("timeouts = 5\n" + MINIMAL, "timeouts: must be a table"),
        ("[timeouts]\ntotal = -1\n" + MINIMAL,
         "timeouts.total: must be a positive number (or false for no limit)"),
        ("[retry]\nmax_retries = -1\n" + MINIMAL, "retry.max_retries: must be an integer >= 0"),
        ("[retry]\nmultiplier = 0.5\n" + MINIMAL, "retry.multiplier: must be a number >= 1"),
        ("breaker = true\n" + MINIMAL, "breaker: must be a table (or false to turn it off)"),
        ("[breaker]\nfailure_threshold = 0\n" + MINIMAL,
         "breaker.failure_threshold: must be a positive integer"),
        ("[hedge]\ndelay = 'p100'\n" + MINIMAL, "hedge.delay: must be a positive number"),
        ("[hedge]\nmax_extra = true\n" + MINIMAL, "hedge.max_extra: must be a positive integer"),
        ("[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\n[[models.smart]]\n"
         "model = 'anthropic/claude'\nrpm = 0\n",
         "models.smart[1].rpm: must be a positive integer"),
        ("[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\nweight = 0\n",
         "models.smart[0].weight: must be a positive number"),
        ("[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\nmax_queue = -1\n",
         "models.smart[0].max_queue: must be an integer >= 0"),
        ("[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\nprice = { input = 1 }\n",
         "models.smart[0].price.output: is missing"),
        ("[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\ntimeouts = { read = 'long' }\n",
         "models.smart[0].timeouts.read: must be a positive number"),
        ("[models]\nsmart = [1]\n", "models.smart[0]: must be a provider/model string or a table"),
        ("[models]\nsmart = 'openai/gpt-4o'\n", "models.smart: must be a list of deployments"),
        # Models: missing, empty, without a provider.
        ("strategy = 'cost'\n", "models: is missing"),
        ("[models]\n", "models: must define at least one group"),
        ("[models]\nsmart = []\n", "models.smart: must list at least one deployment"),
        ("[models]\n[[models.smart]]\nrpm = 5\n", "models.smart[0].model: is missing"),
        ("[models]\nsmart = ['gpt-4o']\n", "models.smart[0]: 'gpt-4o' names no provider"),
        ("[models]\n[[models.smart]]\nmodel = 'mistral-large'\n",
         "models.smart[0].model: 'mistral-large' names no provider"),
        # Fallbacks must name groups.
        (MINIMAL + "[fallbacks]\nsmart = ['fast']\n",
         "fallbacks.smart[0]: 'fast' is not a group in [models]"),
        (MINIMAL + "[fallbacks]\nfast = ['smart']\n", "fallbacks.fast: is not a group in [models]"),
        (MINIMAL + "[content_policy_fallbacks]\nsmart = ['smart']\n",
         "content_policy_fallbacks.smart[0]: a group cannot fall back to itself"),
        (MINIMAL + "[context_window_fallbacks]\nsmart = []\n",
         "context_window_fallbacks.smart: must be a non-empty list of group names"),
        ("gateway = 1\n" + MINIMAL, "gateway: must be a table"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_key_path(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text).startswith(message)


def test_a_literal_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + "[providers.openai]\napi_key = 'sk-literal-secret'\n")
    assert (
        message
        == 'providers.openai.api_key: keys are never literals in config files: use "env:NAME"'
    )
    message = error(
        tmp_path, "[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\napi_key = 'sk-x'\n"
    )
    assert message.startswith("models.smart[0].api_key: keys are never literals")
    assert "sk-x" not in message


def test_a_missing_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    text = "[models]\n[[models.smart]]\nmodel = 'openai/gpt-4o'\napi_key = 'env:NOPE_KEY'\n"
    message = error(tmp_path, text, env={})
    assert message == "models.smart[0].api_key: environment variable NOPE_KEY is not set"
    assert error(tmp_path, text, env={"NOPE_KEY": ""}) == message  # empty counts as unset
    bad = text.replace("env:NOPE_KEY", "env:not-a-name")
    assert error(tmp_path, bad).startswith("models.smart[0].api_key: 'not-a-name' is not an")


def test_provider_defaults_may_use_an_alias(tmp_path: Path) -> None:
    text = "[providers.kimi]\nrpm = 60\n[models]\nsmart = ['moonshot/kimi-k2']\n"
    assert load(tmp_path, text).models["smart"][0].rpm == 60
    twice = "[providers.kimi]\n[providers.moonshot]\n[models]\nsmart = ['moonshot/kimi-k2']\n"
    assert error(tmp_path, twice).startswith("providers.moonshot: repeats the defaults of moonshot")


def test_base_url_may_be_a_literal_or_a_reference(tmp_path: Path) -> None:
    text = MINIMAL + "[providers.openai]\nbase_url = 'env:PROXY_URL'\n"
    config = load(tmp_path, text, env={"PROXY_URL": "http://127.0.0.1:9/v1"})
    assert config.models["smart"][0].base_url == "http://127.0.0.1:9/v1"
    assert error(tmp_path, text, env={}) == (
        "providers.openai.base_url: environment variable PROXY_URL is not set"
    )


def test_a_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    message = error(tmp_path, "strategy = 'cost'\n[models]\nsmart = [,]\n[fallbacks]\n")
    assert message.startswith(f"{tmp_path / 'router.toml'}: invalid TOML: ")
    assert "line 3" in message


def test_an_unreadable_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(aa.ValidationError, match=r"missing\.toml: cannot read: No such file"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b"strategy = '\xe9'\n")
    with pytest.raises(aa.ValidationError, match=r"latin1\.toml: (is not UTF-8|invalid TOML)"):
        load_config(tmp_path / "latin1.toml")


def test_router_kwargs_build_a_router(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")  # a provider the file leaves to its env var
    kwargs = load(tmp_path, FULL).router_kwargs()
    assert kwargs["models"]["fast"] == ["groq/llama-3.3-70b"]
    assert isinstance(kwargs["models"]["smart"][1], aa.Deployment)
    assert isinstance(kwargs["breaker"], aa.CircuitBreaker)
    assert isinstance(kwargs["hedge"], aa.Hedge)
    router = aa.Router(**kwargs)
    assert set(router.deployments) == set(kwargs["models"])
    monkeypatch.setenv("OPENAI_API_KEY", ENV["OPENAI_API_KEY"])
    monkeypatch.setenv("ANTHROPIC_KEY", ENV["ANTHROPIC_KEY"])
    from_file = aa.Router.from_config(write(tmp_path, FULL))
    assert from_file.deployments == router.deployments
