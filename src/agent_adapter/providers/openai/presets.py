"""How each OpenAI-compatible service differs from OpenAI: one ``Quirks`` record per preset.

The OpenAI adapter speaks one wire format; these records say which field
names, roles, options and content kinds each service accepts. Base URLs and
key environment variables live in ``agent_adapter.registry`` (with the sources
they were checked against); this module holds only what changes the request
and response bytes. A name missing from ``QUIRKS`` gets ``GENERIC``: the
conservative OpenAI-compatible dialect (``max_tokens``, no ``developer`` role).

Sources (read for facts, summarised in our words):
openai/openai-python and openai-openapi (OpenAI, Azure); groq/groq-python;
mistralai/client-python (``random_seed``, ``tool_choice: "any"``, no
``stream_options``/``user``/``top_k`` in ``ChatCompletionStreamRequest``);
api-docs.deepseek.com "Thinking Mode" (``thinking`` toggle + ``reasoning_effort``;
``reasoning_content`` must be sent back on tool-call turns); help.aliyun.com
deep-thinking guide (``enable_thinking``, ``thinking_budget``, ``include_usage``);
openrouter.ai "Reasoning Tokens" (``reasoning: {effort | max_tokens}``);
platform.openai.com/docs/guides/prompt-caching and docs.mistral.ai "Prompt
caching" (``prompt_cache_key``);
platform.kimi.com API overview (``thinking`` passed via ``extra_body``);
docs.cohere.com "Using Cohere models via the OpenAI SDK" (the compatibility API
rejects ``stream_options``, as third-party integrations also report);
Ollama ``docs/api/openai-compatibility.mdx`` (base64 images only).
Where a behaviour could not be confirmed the record allows it ("when unsure,
allow") and says **unverified**.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..base import Capabilities

__all__ = ["GENERIC", "QUIRKS", "Quirks", "ReasoningMode", "quirks_for"]

ReasoningMode = Literal["effort", "deepseek", "thinking", "qwen", "openrouter"]
"""How a reasoning request is spelled on the wire.

``effort``: ``reasoning_effort``. ``deepseek``: ``thinking: {type}`` plus
``reasoning_effort``. ``thinking``: ``thinking: {type}`` only (Kimi).
``qwen``: ``enable_thinking`` (+ ``thinking_budget``). ``openrouter``:
``reasoning: {"effort"}`` or ``{"max_tokens"}``.
"""


@dataclass(frozen=True, slots=True)
class Quirks:
    """What one OpenAI-compatible service does differently (see the module docstring)."""

    capabilities: Capabilities = Capabilities()  # noqa: RUF009 - frozen, so sharing is safe
    #: ``max_completion_tokens`` (OpenAI, Azure) or the older ``max_tokens``.
    max_tokens_field: str = "max_tokens"
    #: Keep the ``developer`` role; otherwise it is sent as ``system``.
    developer_role: bool = False
    #: OpenAI's own message fields (assistant ``refusal``) are understood.
    native: bool = False
    #: Send ``stream_options: {"include_usage": true}`` on streaming calls.
    stream_usage: bool = True
    #: Name of the seed field (Mistral: ``random_seed``).
    seed_field: str = "seed"
    #: What ``tool_choice: "required"`` is sent as (Mistral documents ``any``).
    tool_choice_required: str = "required"
    reasoning_mode: ReasoningMode = "effort"
    #: ``{"budget_tokens": N}`` can be expressed (Qwen, OpenRouter).
    reasoning_budget: bool = False
    #: Send an assistant's ``reasoning`` back as ``reasoning_content`` on tool-call turns.
    reasoning_echo: bool = False
    #: Request fields the service rejects; setting one is a ``ValidationError``.
    unsupported: frozenset[str] = frozenset()
    #: Image parts may be plain URLs (Ollama fetches none: data only).
    image_urls: bool = True
    #: Name of the embeddings ``dimensions`` field (Mistral: ``output_dimension``).
    dimensions_field: str = "dimensions"
    #: Send ``encoding_format: "float"`` with embeddings.
    embed_encoding_format: bool = True
    #: Path segment the API lives under, appended to a base URL that lacks it
    #: (so both the vendor SDK's base URL and the OpenAI-SDK style one work).
    path_prefix: str = ""
    #: Azure OpenAI: ``api-key`` auth, deployment in the path, ``api-version`` query.
    azure: bool = False
    #: Send ``prompt_cache_key`` (OpenAI's cache-routing hint); elsewhere it is dropped.
    prompt_cache_key: bool = False


_ALL = Capabilities(
    tools=True,
    images=True,
    audio=True,
    files=True,
    reasoning=True,
    structured_output=True,
    embeddings=True,
)
# Tools, images, reasoning, structured output and embeddings; no audio or file parts.
_TEXT_AND_IMAGES = Capabilities(embeddings=True)

GENERIC = Quirks(capabilities=_TEXT_AND_IMAGES)
"""Dialect for an unknown OpenAI-compatible server: permissive capabilities, old field names."""

_OPENAI = Quirks(
    capabilities=_ALL,
    max_tokens_field="max_completion_tokens",
    developer_role=True,
    native=True,
    unsupported=frozenset({"top_k"}),  # OpenAI answers 400 "Unrecognized request argument"
    prompt_cache_key=True,  # Azure's support unverified: allowed, as the module says
)

QUIRKS: dict[str, Quirks] = {
    "openai": _OPENAI,
    "azure": dataclasses.replace(_OPENAI, azure=True),
    # Groq: vision models, no audio/file parts, no embeddings endpoint.
    "groq": Quirks(path_prefix="/openai/v1"),
    # DeepSeek: text only, no embeddings; reasoning_content must go back on tool-call turns.
    "deepseek": Quirks(
        capabilities=Capabilities(images=False),
        reasoning_mode="deepseek",
        reasoning_echo=True,
    ),
    # Mistral: strict request schema (the SDK has no stream_options, user or top_k).
    "mistral": Quirks(
        capabilities=Capabilities(audio=True, embeddings=True),
        stream_usage=False,  # usage arrives on the final chunk anyway
        seed_field="random_seed",
        tool_choice_required="any",
        unsupported=frozenset({"top_k", "user"}),
        dimensions_field="output_dimension",
        embed_encoding_format=False,
        path_prefix="/v1",
        prompt_cache_key=True,  # docs.mistral.ai "Prompt caching"
    ),
    # Together: usage comes on the last chunk without asking (stream_options unverified).
    "together": Quirks(capabilities=_TEXT_AND_IMAGES, stream_usage=False),
    # xAI: files via file ids (unverified), embeddings endpoint unverified: allowed.
    "xai": Quirks(capabilities=Capabilities(files=True, embeddings=True)),
    # Moonshot/Kimi: no embeddings; thinking toggle; reasoning_content echoed on tool-call turns.
    "moonshot": Quirks(
        stream_usage=False,  # usage arrives in choices[0].usage of the last chunk
        reasoning_mode="thinking",
        reasoning_echo=True,
    ),
    # Qwen (DashScope compatible mode): omni models take input_audio.
    "qwen": Quirks(
        capabilities=Capabilities(audio=True, embeddings=True),
        reasoning_mode="qwen",
        reasoning_budget=True,
    ),
    "openrouter": Quirks(
        capabilities=_ALL,
        stream_usage=False,  # OpenRouter always sends usage on the final chunk
        reasoning_mode="openrouter",
        reasoning_budget=True,
    ),
    "huggingface": Quirks(capabilities=_TEXT_AND_IMAGES),
    "ernie": Quirks(capabilities=_TEXT_AND_IMAGES),  # stream_options: unverified
    "hunyuan": Quirks(capabilities=_TEXT_AND_IMAGES, stream_usage=False),
    "spark": Quirks(capabilities=Capabilities(images=False), stream_usage=False),
    # Cohere compatibility API: rejects stream_options.
    "cohere": Quirks(capabilities=_TEXT_AND_IMAGES, stream_usage=False),
    # Ollama /v1: base64 images only; tool_choice, user, n not supported (ignored).
    "ollama_openai": Quirks(capabilities=_TEXT_AND_IMAGES, image_urls=False, path_prefix="/v1"),
    "vllm": Quirks(capabilities=_ALL),
    "lmstudio": Quirks(capabilities=_TEXT_AND_IMAGES),
}

_FIELDS = frozenset(f.name for f in dataclasses.fields(Quirks))


def quirks_for(name: str, options: Mapping[str, Any] | None = None) -> Quirks:
    """The quirks of preset ``name``, with any same-named ``options`` overriding them.

    Overrides let a caller point the adapter at a server that behaves
    differently (e.g. ``options={"stream_usage": False}``) without a new preset.
    """
    quirks = QUIRKS.get(name, GENERIC)
    if options:
        overrides = {k: v for k, v in options.items() if k in _FIELDS}
        if overrides:
            if "unsupported" in overrides:
                overrides["unsupported"] = frozenset(overrides["unsupported"])
            quirks = dataclasses.replace(quirks, **overrides)
    return quirks
