"""Provider names → adapter class, default base URL, key and base-URL environment variables.

Cheap to import: adapter classes are named by ``"module:Class"`` strings and
imported only when ``create_adapter`` builds one (nothing here imports
httpcore). OpenAI-compatible services are presets of ``OpenAIAdapter``; their
wire differences live in ``providers/openai/presets.py``.

Each entry notes where its base URL and key variable were checked (official
docs or SDK, read via the project's search tool). "convention" marks an env
var name that no official source defines (we follow ``<NAME>_API_KEY`` /
``<NAME>_BASE_URL``); "unverified" marks what could not be confirmed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import AuthenticationError, ValidationError

if TYPE_CHECKING:
    from .providers.base import Adapter

__all__ = [
    "APIS",
    "PROVIDERS",
    "ProviderSpec",
    "create_adapter",
    "get_spec",
    "names",
    "split_model",
]

_OPENAI = "agent_adapter.providers.openai:OpenAIAdapter"
# The Responses API (platform.openai.com/docs/api-reference/responses), OpenAI's and Azure's.
_RESPONSES = (("responses", "agent_adapter.providers.openai.responses:OpenAIResponsesAdapter"),)

APIS = ("chat", "responses")
"""The values of ``api=``: ``chat`` (every provider's chat API) or ``responses`` (OpenAI, Azure)."""
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """How to reach one provider: everything ``create_adapter`` needs but the caller's input.

    ``adapter`` is ``"module:Class"`` for the chat API; ``apis`` names the
    adapters of the other APIs the provider serves (``api`` name, ``"module:Class"``).
    ``key_env`` and ``base_url_env`` are tried in order; ``options`` are the
    adapter's default options and ``option_env`` maps an option name to the env
    var that sets it.
    """

    name: str
    adapter: str
    base_url: str
    key_env: tuple[str, ...] = ()
    base_url_env: tuple[str, ...] = ()
    key_required: bool = True
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)
    option_env: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()
    apis: tuple[tuple[str, str], ...] = ()

    def adapter_class(self, api: str = "chat") -> type[Adapter]:
        """Import and return the adapter class for ``api`` (the only import done lazily).

        An ``api`` the provider does not serve is a ``ValidationError`` naming ``api``.
        """
        target = self.adapter if api == "chat" else dict(self.apis).get(api)
        if target is None:
            if api not in APIS:
                raise ValidationError(
                    f"unknown API {api!r}; expected one of {', '.join(APIS)}", field="api"
                )
            served = ", ".join(["chat", *(name for name, _ in self.apis)])
            raise ValidationError(
                f"{self.name} has no {api!r} API (it serves: {served})", field="api"
            )
        module, _, name = target.partition(":")
        cls: type[Adapter] = getattr(import_module(module), name)
        return cls


def _preset(name: str, base_url: str, key_env: tuple[str, ...], **kw: Any) -> ProviderSpec:
    """An OpenAI-compatible preset; its base-URL env var is ``<NAME>_BASE_URL`` by default."""
    kw.setdefault("base_url_env", (f"{name.upper()}_BASE_URL",))
    return ProviderSpec(name=name, adapter=_OPENAI, base_url=base_url, key_env=key_env, **kw)


PROVIDERS: tuple[ProviderSpec, ...] = (
    # openai-python: OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID.
    _preset(
        "openai",
        "https://api.openai.com/v1",
        ("OPENAI_API_KEY",),
        option_env=(("organization", "OPENAI_ORG_ID"), ("project", "OPENAI_PROJECT_ID")),
        apis=_RESPONSES,
    ),
    # openai-python lib/azure.py: AZURE_OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT,
    # OPENAI_API_VERSION; the endpoint has no default.
    _preset(
        "azure",
        "",
        ("AZURE_OPENAI_API_KEY",),
        base_url_env=("AZURE_OPENAI_ENDPOINT",),
        option_env=(("api_version", "OPENAI_API_VERSION"),),
        aliases=("azure_openai",),
        apis=_RESPONSES,
    ),
    # groq-python: base https://api.groq.com + /openai/v1 paths; GROQ_API_KEY, GROQ_BASE_URL.
    _preset("groq", "https://api.groq.com", ("GROQ_API_KEY",)),
    # api-docs.deepseek.com: base https://api.deepseek.com; DEEPSEEK_API_KEY in their examples.
    _preset("deepseek", "https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
    # mistralai/client-python: server https://api.mistral.ai (+ /v1 paths); MISTRAL_API_KEY.
    _preset("mistral", "https://api.mistral.ai", ("MISTRAL_API_KEY",)),
    # together-python README: TOGETHER_API_KEY; base https://api.together.xyz/v1,
    # TOGETHER_BASE_URL (as used by integrations; unverified in the SDK).
    _preset("together", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
    # docs.x.ai API overview: https://api.x.ai/v1, Bearer $XAI_API_KEY.
    _preset("xai", "https://api.x.ai/v1", ("XAI_API_KEY",)),
    # platform.kimi.com API overview: Bearer $MOONSHOT_API_KEY; api.moonshot.ai/v1
    # (international; China: https://api.moonshot.cn/v1, keys are region-bound).
    _preset("moonshot", "https://api.moonshot.ai/v1", ("MOONSHOT_API_KEY",), aliases=("kimi",)),
    # Alibaba Model Studio (help.aliyun.com): DASHSCOPE_API_KEY; international endpoint
    # (China: https://dashscope.aliyuncs.com/compatible-mode/v1). QWEN_BASE_URL: convention.
    _preset(
        "qwen",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        ("DASHSCOPE_API_KEY",),
        aliases=("dashscope",),
    ),
    # openrouter.ai docs: https://openrouter.ai/api/v1, OPENROUTER_API_KEY (convention).
    _preset("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
    # huggingface.co changelog "Inference Providers ... fully support OpenAI-compatible API":
    # router.huggingface.co/v1; huggingface_hub reads HF_TOKEN (HUGGING_FACE_HUB_TOKEN: legacy).
    _preset(
        "huggingface",
        "https://router.huggingface.co/v1",
        ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
        aliases=("hf",),
    ),
    # cloud.baidu.com "OpenAI SDK兼容介绍": base https://qianfan.baidubce.com/v2, Bearer API key
    # (bce-v3/...); QIANFAN_API_KEY is a convention (unverified as an official name).
    _preset(
        "ernie",
        "https://qianfan.baidubce.com/v2",
        ("QIANFAN_API_KEY",),
        base_url_env=("ERNIE_BASE_URL", "QIANFAN_BASE_URL"),
        aliases=("qianfan",),
    ),
    # cloud.tencent.com/document/product/1729/111007: https://api.hunyuan.cloud.tencent.com/v1,
    # Bearer $HUNYUAN_API_KEY in the official example.
    _preset(
        "hunyuan",
        "https://api.hunyuan.cloud.tencent.com/v1",
        ("HUNYUAN_API_KEY",),
    ),
    # xfyun.cn Spark HTTP docs: https://spark-api-open.xf-yun.com/v1 (Lite/Pro/Max/4.0 Ultra;
    # the X1 reasoning model is on /v2), Bearer <APIPassword> (or "APIKey:APISecret").
    # Env names are ours: SPARK_API_PASSWORD, then SPARK_API_KEY.
    _preset(
        "spark",
        "https://spark-api-open.xf-yun.com/v1",
        ("SPARK_API_PASSWORD", "SPARK_API_KEY"),
        aliases=("iflytek",),
    ),
    # docs.cohere.com "Using Cohere models via the OpenAI SDK": base
    # https://api.cohere.ai/compatibility/v1; cohere-python reads CO_API_KEY.
    _preset(
        "cohere",
        "https://api.cohere.ai/compatibility/v1",
        ("CO_API_KEY", "COHERE_API_KEY"),
    ),
    # Ollama docs/api/openai-compatibility.mdx: http://localhost:11434/v1, key ignored.
    # OLLAMA_HOST is the server's own variable (host[:port], scheme optional).
    _preset(
        "ollama_openai",
        "http://localhost:11434",
        (),
        key_required=False,
        base_url_env=("OLLAMA_OPENAI_BASE_URL", "OLLAMA_HOST"),
        aliases=("ollama-openai",),
    ),
    # docs.vllm.ai "OpenAI-Compatible Server": http://localhost:8000/v1; a key only if the
    # server was started with --api-key (the server also reads VLLM_API_KEY).
    _preset("vllm", "http://localhost:8000/v1", ("VLLM_API_KEY",), key_required=False),
    # LM Studio local server default port 1234 (unverified here), no key.
    _preset("lmstudio", "http://localhost:1234/v1", (), key_required=False),
    # Native protocols, each with its own adapter (providers/anthropic, gemini, zhipu, ollama).
    ProviderSpec(
        name="anthropic",
        adapter="agent_adapter.providers.anthropic:AnthropicAdapter",
        base_url="https://api.anthropic.com",
        key_env=("ANTHROPIC_API_KEY",),
        base_url_env=("ANTHROPIC_BASE_URL",),
    ),
    ProviderSpec(
        name="gemini",
        adapter="agent_adapter.providers.gemini:GeminiAdapter",
        base_url="https://generativelanguage.googleapis.com",
        key_env=("GOOGLE_API_KEY", "GEMINI_API_KEY"),  # python-genai: GOOGLE_API_KEY wins
        base_url_env=("GOOGLE_GEMINI_BASE_URL",),
        aliases=("google",),
    ),
    ProviderSpec(
        name="zhipu",
        adapter="agent_adapter.providers.zhipu:ZhipuAdapter",
        base_url="https://open.bigmodel.cn/api/paas/v4",
        key_env=("ZHIPUAI_API_KEY",),
        base_url_env=("ZHIPUAI_BASE_URL",),
        aliases=("glm",),
    ),
    ProviderSpec(
        name="zai",
        adapter="agent_adapter.providers.zhipu:ZhipuAdapter",
        base_url="https://api.z.ai/api/paas/v4",
        key_env=("ZAI_API_KEY",),
        base_url_env=("ZAI_BASE_URL",),
    ),
    ProviderSpec(
        name="ollama",
        adapter="agent_adapter.providers.ollama:OllamaAdapter",
        base_url="http://localhost:11434",
        key_env=("OLLAMA_API_KEY",),  # only for ollama.com cloud models
        base_url_env=("OLLAMA_HOST", "OLLAMA_BASE_URL"),
        key_required=False,
    ),
)

_BY_NAME: dict[str, ProviderSpec] = {}
for _spec in PROVIDERS:
    for _name in (_spec.name, *_spec.aliases):
        _BY_NAME[_name] = _spec
del _spec, _name


def names() -> list[str]:
    """Every provider name (aliases not included), in table order."""
    return [spec.name for spec in PROVIDERS]


def get_spec(name: str) -> ProviderSpec:
    """The spec for a provider name or alias; unknown names are a ``ValidationError``."""
    spec = _BY_NAME.get(name)
    if spec is None:
        raise ValidationError(
            f"unknown provider {name!r}; known: {', '.join(names())}", field="provider"
        )
    return spec


def split_model(model: str) -> tuple[str | None, str]:
    """``"groq/llama-3.3-70b"`` → ``("groq", "llama-3.3-70b")``; unknown prefix → ``(None, model)``.

    Only an exact (case-sensitive) provider name or alias counts as a prefix,
    so ``"meta-llama/Llama-3.3-70B"`` or ``"Qwen/Qwen3-8B"`` stay whole.
    """
    prefix, sep, rest = model.partition("/")
    if sep and rest and prefix in _BY_NAME:
        return _BY_NAME[prefix].name, rest
    return None, model


def create_adapter(
    name: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    api: str = "chat",
) -> Adapter:
    """Build the adapter for ``name`` and ``api``: arguments first, then env vars, then defaults.

    An ``api`` the provider does not serve is a ``ValidationError`` naming
    ``api``; a missing required key is an ``AuthenticationError`` naming the
    variables to set; a provider without a default base URL (Azure) needs one given.
    """
    spec = get_spec(name)
    cls = spec.adapter_class(api)
    env = os.environ if env is None else env
    key = api_key or _first(env, spec.key_env)
    if not key and spec.key_required:
        where = " or ".join(spec.key_env)
        raise AuthenticationError(
            f"no API key for {spec.name}: set {where}, or pass api_key=...",
            provider=spec.name,
        )
    url = base_url or _first(env, spec.base_url_env) or spec.base_url
    if not url:
        where = " or ".join(spec.base_url_env)
        raise ValidationError(
            f"{spec.name} has no default endpoint: set {where}, or pass base_url=...",
            field="base_url",
        )
    merged = dict(spec.options)
    for option, variable in spec.option_env:
        if env.get(variable):
            merged[option] = env[variable]
    merged.update(options or {})
    return cls(
        name=spec.name,
        base_url=_with_scheme(url, spec.base_url),
        api_key=key or None,
        headers=headers,
        options=merged,
    )


def _first(env: Mapping[str, str], variables: tuple[str, ...]) -> str | None:
    for variable in variables:
        value = env.get(variable)
        if value:
            return value
    return None


def _with_scheme(url: str, default: str) -> str:
    """A URL from ``host[:port]`` (as ``OLLAMA_HOST`` allows): add the default's scheme and port."""
    if "://" in url:
        return url
    parts = urlsplit(default or "http://localhost")
    if ":" not in url.split("/", 1)[0] and parts.port:
        host, slash, path = url.partition("/")
        url = f"{host}:{parts.port}{slash}{path}"
    return f"{parts.scheme or 'http'}://{url}"
