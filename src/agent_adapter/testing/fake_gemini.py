"""A canned but plausible Gemini Developer API: ``reply(request) -> Reply``.

Used by ``agent-adapter mock`` and the examples so that a client pointed at the
mock server gets answers shaped like Gemini's: a ``functionCall`` part (with a
thought signature) when tools are offered and the last turn is the user's own
text, a thought-summary part when ``includeThoughts`` is on, and for
``:streamGenerateContent?alt=sse`` a stream of ``GenerateContentResponse``
chunks whose last one carries ``finishReason``. ``:embedContent`` and
``:batchEmbedContents`` return deterministic vectors, ``:countTokens``
``count(body)``. A missing key or a malformed body gets Google's
``google.rpc.Status`` error body.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import msgspec

from . import _fake_common as common
from .replies import RecordedRequest, Reply

__all__ = ["count", "reply"]

_encode = msgspec.json.Encoder().encode
_SIGNATURE = "CikBfakeThoughtSignatureForTheMockServer0123456789abcdefAA=="
_ROUTE = re.compile(r"^/v1(?:beta|alpha)?/((?:models|tunedModels)/[^:/]+):([A-Za-z]+)$")
_DIMENSIONS = 8


def reply(request: RecordedRequest, *, delay: float = 0.0) -> Reply:
    """The reply the Gemini API would plausibly give to ``request``."""
    route, _, query = request.path.partition("?")
    match = _ROUTE.match(route)
    if request.method != "POST" or match is None:
        return _error(404, "NOT_FOUND", f"The requested URL {route} was not found on this server.")
    resource, method = match.groups()
    if not request.headers.get("x-goog-api-key") and "key=" not in query:
        return _error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
        )
    try:
        body = request.json()
    except (msgspec.DecodeError, UnicodeDecodeError):
        return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    if not isinstance(body, dict):
        return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
    model = resource.split("/", 1)[1]
    if method == "batchEmbedContents":
        return _batch_embed(body)
    if method == "embedContent":
        return Reply.json({"embedding": {"values": _vector(body)}})
    if method == "countTokens":
        return _count(request.body, body)
    if method not in ("generateContent", "streamGenerateContent"):
        return _error(404, "NOT_FOUND", f"Method {method} is not supported by the mock.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return _error(
            400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified"
        )
    parts, thought, finish = _answer(body, contents)
    response_id = "mock" + hashlib.sha256(request.body).hexdigest()[:20]
    prompt_tokens = common.tokens(request.body)
    output_tokens = common.tokens(_encode(parts))
    thought_tokens = common.tokens(thought) if thought else 0
    if method == "generateContent":
        all_parts = ([{"text": thought, "thought": True}] if thought else []) + parts
        usage = _usage(prompt_tokens, output_tokens, thought_tokens)
        return Reply.json(_response(all_parts, finish, usage, model, response_id))
    if "alt=sse" not in query:
        # Without alt=sse the API streams one JSON array; we serve it whole.
        chunk = _response(
            parts, finish, _usage(prompt_tokens, output_tokens, 0), model, response_id
        )
        return Reply.json([chunk])
    return Reply.sse(
        _events(
            parts, thought, finish, prompt_tokens, output_tokens, thought_tokens, model, response_id
        ),
        delay=delay,
    )


def count(body: bytes) -> int:
    """The fake's ``totalTokens`` for a ``countTokens`` body: ``tokens`` of its bytes.

    Deterministic, so a test can compute what the fake will say.
    """
    return common.tokens(body)


def _count(raw: bytes, body: dict[str, Any]) -> Reply:
    inner = body.get("generateContentRequest")
    contents = inner.get("contents") if isinstance(inner, dict) else body.get("contents")
    if not isinstance(contents, list) or not contents:
        return _error(400, "INVALID_ARGUMENT", "* CountTokensRequest: contents is not specified")
    if isinstance(inner, dict) and not inner.get("model"):
        return _error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.model: model is required")
    return Reply.json({"totalTokens": count(raw)})


def _error(status: int, grpc: str, message: str) -> Reply:
    return Reply.error(status, {"error": {"code": status, "message": message, "status": grpc}})


def _answer(body: dict[str, Any], contents: list[Any]) -> tuple[list[dict[str, Any]], str, str]:
    """The answer's parts, its thought summary ("" if thoughts were not asked for), finishReason."""
    last = contents[-1] if isinstance(contents[-1], dict) else {}
    last_parts = [p for p in last.get("parts") or () if isinstance(p, dict)]
    user_spoke = last.get("role", "user") == "user" and not any(
        "functionResponse" in p for p in last_parts
    )
    config = common.obj(body.get("generationConfig"))
    thought = ""
    if common.obj(config.get("thinkingConfig")).get("includeThoughts"):
        thought = "**Planning the reply**\nI should answer briefly and clearly."
    tool = _pick_tool(body)
    if tool is not None and user_spoke:
        params = tool.get("parameters") or tool.get("parametersJsonSchema")
        call = {"name": tool["name"], "args": common.arguments(params)}
        return [{"functionCall": call, "thoughtSignature": _SIGNATURE}], thought, "STOP"
    if not user_spoke:
        results = [p["functionResponse"] for p in last_parts if "functionResponse" in p]
        names = ", ".join(str(r.get("name")) for r in results if isinstance(r, dict))
        text = f"Here is what I found using {names or 'the tools'}. (mock reply)"
    else:
        text = f"You said: {common.text_of(last)[:200]}. This is a mock Gemini reply."
    if config.get("responseMimeType") == "application/json":
        text = common.json_answer(
            config.get("responseSchema") or config.get("responseJsonSchema"), text
        )
    limit = config.get("maxOutputTokens")
    finish = "STOP"
    if isinstance(limit, int) and limit > 0 and len(text) > limit * 4:
        text, finish = text[: limit * 4], "MAX_TOKENS"
    return [{"text": text}], thought, finish


def _pick_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function to call: an allowed one, else the first; None when the mode is NONE."""
    calling = common.obj(common.obj(body.get("toolConfig")).get("functionCallingConfig"))
    if calling.get("mode") == "NONE":
        return None
    allowed = calling.get("allowedFunctionNames")
    declarations = [
        d for t in body.get("tools") or () for d in common.obj(t).get("functionDeclarations") or ()
    ]
    return common.pick_tool(declarations, allowed if isinstance(allowed, list) else None)


def _usage(prompt: int, output: int, thoughts: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _response(
    parts: list[dict[str, Any]],
    finish: str | None,
    usage: dict[str, Any],
    model: str,
    response_id: str,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
        if any("functionCall" in p for p in parts):
            candidate["finishMessage"] = "Model generated function call(s)."
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": response_id,
    }


def _events(
    parts: list[dict[str, Any]],
    thought: str,
    finish: str,
    prompt: int,
    output: int,
    thoughts: int,
    model: str,
    response_id: str,
) -> list[bytes]:
    """SSE events: the thought, then the text in pieces (or the whole call), then the finish."""
    steps: list[list[dict[str, Any]]] = []
    if thought:
        steps.append([{"text": thought, "thought": True}])
    for part in parts:
        text = part.get("text")
        if isinstance(text, str) and text:
            steps.extend([{"text": piece}] for piece in common.pieces(text, 24))
        else:
            steps.append([part])
    events: list[bytes] = []
    for n, step in enumerate(steps):
        done = math.ceil(output * (n + 1) / len(steps))
        last = n == len(steps) - 1
        usage = _usage(prompt, done, thoughts)
        chunk = _response(step, finish if last else None, usage, model, response_id)
        events.append(b"data: " + _encode(chunk) + b"\r\n\r\n")
    return events


def _vector(request: dict[str, Any]) -> list[float]:
    """The embedding of an ``EmbedContentRequest``'s text, ``outputDimensionality`` long."""
    dims = request.get("outputDimensionality")
    size = dims if isinstance(dims, int) and 0 < dims <= 3072 else _DIMENSIONS
    return common.vector(common.text_of(request.get("content")), size)


def _batch_embed(body: dict[str, Any]) -> Reply:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        return _error(
            400,
            "INVALID_ARGUMENT",
            "* BatchEmbedContentsRequest.requests: requests is not specified",
        )
    vectors = [{"values": _vector(r)} for r in requests if isinstance(r, dict)]
    return Reply.json({"embeddings": vectors})
