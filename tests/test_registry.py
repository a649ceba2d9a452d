"""The provider registry: names, aliases, model prefixes, keys and base URLs from env vars."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent_adapter.errors import AuthenticationError, ValidationError
from agent_adapter.providers.openai import OpenAIAdapter
from agent_adapter.providers.openai.presets import QUIRKS
from agent_adapter.registry import PROVIDERS, create_adapter, get_spec, names, split_model
from agent_adapter.types import ChatRequest, Message

PRESETS = [
    "openai", "azure", "groq", "deepseek", "mistral", "together", "xai", "moonshot", "qwen",
    "openrouter", "huggingface", "ernie", "hunyuan", "spark", "cohere", "ollama_openai", "vllm",
]  # fmt: skip
NATIVE = ["anthropic", "gemini", "zhipu", "zai", "ollama"]
REQUEST = ChatRequest(model="m", messages=[Message(role="user", content="hi")])


def test_names_cover_every_preset_and_native_provider() -> None:
    listed = names()
    for name in [*PRESETS, *NATIVE]:
        assert name in listed
    assert len(listed) == len(set(listed))
    assert "google" not in listed  # aliases are not names


def test_every_openai_preset_has_quirks() -> None:
    for spec in PROVIDERS:
        if spec.adapter.endswith(":OpenAIAdapter"):
            assert spec.name in QUIRKS, spec.name


@pytest.mark.parametrize(
    ("alias", "name"),
    [("google", "gemini"), ("glm", "zhipu"), ("kimi", "moonshot"), ("hf", "huggingface"),
     ("dashscope", "qwen"), ("qianfan", "ernie"), ("ollama-openai", "ollama_openai")],
)  # fmt: skip
def test_aliases(alias: str, name: str) -> None:
    assert get_spec(alias).name == name


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError) as info:
        get_spec("opnai")
    assert info.value.field == "provider"
    assert "openai" in str(info.value)
    assert "anthropic" in str(info.value)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("groq/llama-3.3-70b-versatile", ("groq", "llama-3.3-70b-versatile")),
        ("openrouter/anthropic/claude-sonnet-4.5", ("openrouter", "anthropic/claude-sonnet-4.5")),
        ("google/gemini-2.5-flash", ("gemini", "gemini-2.5-flash")),
        ("anthropic/claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
        ("gpt-4o", (None, "gpt-4o")),
        ("meta-llama/Llama-3.3-70B-Instruct", (None, "meta-llama/Llama-3.3-70B-Instruct")),
        ("Qwen/Qwen3-8B", (None, "Qwen/Qwen3-8B")),
        ("groq/", (None, "groq/")),
    ],
)
def test_split_model(model: str, expected: tuple[str | None, str]) -> None:
    assert split_model(model) == expected


def test_key_from_argument_then_env_in_order() -> None:
    a = create_adapter("gemini", api_key="arg", env={"GEMINI_API_KEY": "g", "GOOGLE_API_KEY": "o"})
    assert a.api_key is not None
    assert a.api_key.reveal() == "arg"
    a = create_adapter("gemini", env={"GEMINI_API_KEY": "g", "GOOGLE_API_KEY": "o"})
    assert a.api_key is not None
    assert a.api_key.reveal() == "o"  # as python-genai: GOOGLE_API_KEY wins when both are set
    a = create_adapter("gemini", env={"GEMINI_API_KEY": "g", "GOOGLE_API_KEY": ""})
    assert a.api_key is not None
    assert a.api_key.reveal() == "g"
    assert "'g'" not in repr(a)


def test_missing_key_names_the_variables() -> None:
    with pytest.raises(AuthenticationError) as info:
        create_adapter("gemini", env={})
    message = str(info.value)
    assert "GEMINI_API_KEY" in message
    assert "GOOGLE_API_KEY" in message
    assert "api_key=" in message
    assert info.value.provider == "gemini"
    with pytest.raises(AuthenticationError, match="SPARK_API_PASSWORD"):
        create_adapter("spark", env={})


@pytest.mark.parametrize("name", ["vllm", "ollama_openai", "ollama", "lmstudio"])
def test_local_providers_need_no_key(name: str) -> None:
    adapter = create_adapter(name, env={})
    assert adapter.api_key is None


def test_base_url_argument_then_env_then_default() -> None:
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://proxy.example/v1"}
    assert create_adapter("openai", env=env).base_url == "https://proxy.example/v1"
    assert create_adapter("openai", base_url="http://x/v1", env=env).base_url == "http://x/v1"
    assert create_adapter("openai", env={"OPENAI_API_KEY": "k"}).base_url == (
        "https://api.openai.com/v1"
    )


@pytest.mark.parametrize(
    ("name", "env_var", "url"),
    [
        ("groq", "GROQ_API_KEY", "https://api.groq.com/openai/v1/chat/completions"),
        ("deepseek", "DEEPSEEK_API_KEY", "https://api.deepseek.com/chat/completions"),
        ("mistral", "MISTRAL_API_KEY", "https://api.mistral.ai/v1/chat/completions"),
        ("together", "TOGETHER_API_KEY", "https://api.together.xyz/v1/chat/completions"),
        ("xai", "XAI_API_KEY", "https://api.x.ai/v1/chat/completions"),
        ("moonshot", "MOONSHOT_API_KEY", "https://api.moonshot.ai/v1/chat/completions"),
        ("qwen", "DASHSCOPE_API_KEY",
         "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"),
        ("openrouter", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1/chat/completions"),
        ("huggingface", "HF_TOKEN", "https://router.huggingface.co/v1/chat/completions"),
        ("ernie", "QIANFAN_API_KEY", "https://qianfan.baidubce.com/v2/chat/completions"),
        ("hunyuan", "HUNYUAN_API_KEY",
         "https://api.hunyuan.cloud.tencent.com/v1/chat/completions"),
        ("spark", "SPARK_API_KEY", "https://spark-api-open.xf-yun.com/v1/chat/completions"),
        ("cohere", "CO_API_KEY", "https://api.cohere.ai/compatibility/v1/chat/completions"),
        ("cohere", "COHERE_API_KEY", "https://api.cohere.ai/compatibility/v1/chat/completions"),
        ("ollama_openai", "-", "http://localhost:11434/v1/chat/completions"),
        ("vllm", "VLLM_API_KEY", "http://localhost:8000/v1/chat/completions"),
    ],
)  # fmt: skip
def test_preset_defaults(name: str, env_var: str, url: str) -> None:
    adapter = create_adapter(name, env={env_var: "secret-key"})
    assert isinstance(adapter, OpenAIAdapter)
    assert adapter.name == name
    http = adapter.encode(REQUEST)
    assert http.url == url
    if env_var != "-":
        assert (b"authorization", b"Bearer secret-key") in http.headers


def test_preset_base_url_env_var() -> None:
    adapter = create_adapter(
        "deepseek",
        env={"DEEPSEEK_API_KEY": "k", "DEEPSEEK_BASE_URL": "https://api.deepseek.com/v1"},
    )
    assert adapter.encode(REQUEST).url == "https://api.deepseek.com/v1/chat/completions"


def test_azure_from_env() -> None:
    env = {
        "AZURE_OPENAI_API_KEY": "azkey",
        "AZURE_OPENAI_ENDPOINT": "https://myres.openai.azure.com/",
        "OPENAI_API_VERSION": "2025-01-01-preview",
    }
    adapter = create_adapter("azure", env=env)
    http = adapter.encode(ChatRequest(model="gpt4o-prod", messages=REQUEST.messages))
    assert http.url == (
        "https://myres.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions"
        "?api-version=2025-01-01-preview"
    )
    assert (b"api-key", b"azkey") in http.headers
    # an explicit option beats the env var
    adapter = create_adapter("azure", env=env, options={"api_version": "2024-10-21"})
    assert adapter.encode(REQUEST).url.endswith("?api-version=2024-10-21")


def test_azure_without_endpoint_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        create_adapter("azure", env={"AZURE_OPENAI_API_KEY": "k"})
    assert info.value.field == "base_url"
    assert "AZURE_OPENAI_ENDPOINT" in str(info.value)


def test_openai_org_and_project_from_env() -> None:
    env = {"OPENAI_API_KEY": "k", "OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj_1"}
    headers = dict(create_adapter("openai", env=env).encode(REQUEST).headers)
    assert headers[b"openai-organization"] == b"org-1"
    assert headers[b"openai-project"] == b"proj_1"


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("gpu-box:9999", "http://gpu-box:9999"),
        ("https://ollama.example.com", "https://ollama.example.com"),
    ],
)
def test_ollama_host_forms(host: str, base: str) -> None:
    assert create_adapter("ollama", env={"OLLAMA_HOST": host}).base_url == base
    openai_style = create_adapter("ollama_openai", env={"OLLAMA_HOST": host})
    assert openai_style.base_url == base + "/v1"


def test_headers_and_options_reach_the_adapter() -> None:
    adapter = create_adapter(
        "vllm", headers={"X-Team": "search"}, options={"stream_usage": False}, env={}
    )
    assert (b"x-team", b"search") in adapter.encode(REQUEST).headers
    assert isinstance(adapter, OpenAIAdapter)
    assert adapter.quirks.stream_usage is False


@pytest.mark.parametrize("name", NATIVE)
def test_native_providers_build_their_adapter(name: str) -> None:
    spec = get_spec(name)
    adapter = create_adapter(name, api_key="k", env={})
    assert type(adapter).__name__ == spec.adapter.rpartition(":")[2]
    assert adapter.name == name
    assert adapter.base_url == spec.base_url


def test_native_defaults() -> None:
    assert get_spec("anthropic").base_url == "https://api.anthropic.com"
    assert get_spec("anthropic").base_url_env == ("ANTHROPIC_BASE_URL",)
    assert get_spec("gemini").key_env == ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    assert get_spec("gemini").base_url_env == ("GOOGLE_GEMINI_BASE_URL",)
    assert get_spec("zhipu").base_url == "https://open.bigmodel.cn/api/paas/v4"
    assert get_spec("zai").base_url == "https://api.z.ai/api/paas/v4"
    assert get_spec("zai").adapter == get_spec("zhipu").adapter
    assert get_spec("ollama").base_url_env == ("OLLAMA_HOST", "OLLAMA_BASE_URL")


def test_import_is_cheap() -> None:
    code = (
        "import sys, agent_adapter.registry as r; r.names(); r.split_model('groq/x'); "
        "bad = [m for m in sys.modules if m in ('httpcore', 'anyio') or "
        "m.startswith('agent_adapter.providers')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
