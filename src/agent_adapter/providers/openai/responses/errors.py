"""How a Responses failure inside a 200 is classified: ``response.failed`` and ``error`` events.

HTTP errors have the Chat Completions error body and go through
``openai.errors.error_response``. A response that fails while it is being
generated reports ``response.error`` instead (``code`` is one of the values in
https://platform.openai.com/docs/api-reference/responses/object, under
``error``): a rate limit or a server error is retryable, a prompt or an image
the API rejects is the caller's to fix, a policy refusal is a content filter.
The ``error`` stream event is documented with ``code``/``message``/``param``
at the top level
(https://platform.openai.com/docs/api-reference/responses-streaming/error);
the live API has been seen to nest them under ``error`` as an HTTP error body
does, so both are read.
"""

from __future__ import annotations

from ....errors import AdapterError
from ...base import ErrorKind, Headers, classify
from ..errors import ErrorFacts
from ..wire import ErrorObject
from .wire import ErrorIn

__all__ = ["failure"]

_IMAGE_CODES = frozenset(
    (
        "invalid_image", "invalid_image_format", "invalid_base64_image", "invalid_image_url",
        "image_too_large", "image_too_small", "image_parse_error", "invalid_image_mode",
        "image_file_too_large", "unsupported_image_media_type", "empty_image_file",
        "failed_to_download_image", "image_file_not_found",
    )
)  # fmt: skip

_KINDS: dict[str, ErrorKind] = {
    "server_error": "server",
    "vector_store_timeout": "server",
    "rate_limit_exceeded": "rate_limit",
    "too_many_requests": "rate_limit",
    "invalid_prompt": "bad_request",
    "data_residency_mismatch": "bad_request",
    "bio_policy": "content_filter",
    "image_content_policy_violation": "content_filter",
    **dict.fromkeys(_IMAGE_CODES, "bad_request"),
}


def failure(
    provider: str, error: ErrorIn | None, payload: bytes, *, fallback: str, headers: Headers = ()
) -> AdapterError:
    """The error for a failed response or an ``error`` event (``fallback``: the message
    when the body gives none). Codes we do not know are read like any in-band error: a
    retryable server failure unless the body says more (quota, context length, ...)."""
    error = error or ErrorIn()
    code = error.code
    facts = ErrorFacts.of(ErrorObject(message=error.message, type=error.type, code=code))
    kind = _KINDS.get(code or "") or facts.kind(None, "server")
    return classify(
        provider=provider,
        status=None,
        headers=headers,
        message=error.message or fallback,
        body=payload,
        kind=kind,
        code=code,
    )
