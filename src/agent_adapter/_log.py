"""The library's logger, ``agent_adapter``: DEBUG per attempt, WARNING per retry and fallback.

Records carry structured fields in ``extra`` (``provider``, ``model``,
``attempt``, ``delay``, ``error_type``, ``status``, ``request_id``) and
never an API key, a prompt or an answer: error messages stay out too, since
providers echo request content (and masked keys) in them.

The ``NullHandler`` is added here rather than in ``__init__``: importing
``logging`` there would add ~5 ms to ``import agent_adapter``, and every
module that logs imports this one first, so it is in place before any record.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import Call

__all__ = ["DEBUG", "log_attempt", "log_fallback", "log_retry", "logger"]

DEBUG = logging.DEBUG

logger = logging.getLogger("agent_adapter")
if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
    logger.addHandler(logging.NullHandler())


def log_attempt(call: Call) -> None:
    """One attempt of ``call`` is starting (DEBUG; the caller checked the level)."""
    logger.debug(
        "%s %s %s: attempt %d",
        call.provider,
        call.operation,
        call.model,
        call.attempts,
        extra={
            "provider": call.provider,
            "model": call.model,
            "operation": call.operation,
            "attempt": call.attempts,
        },
    )


def log_retry(call: Call, error: BaseException, attempt: int, delay: float) -> None:
    """Attempt ``attempt`` (1-based) failed with ``error``; the next starts in ``delay`` s."""
    error_type = type(error).__name__
    status = getattr(error, "status", None)
    logger.warning(
        "%s %s %s: attempt %d failed (%s%s); retrying in %.3f s",
        call.provider,
        call.operation,
        call.model,
        attempt,
        error_type,
        f" {status}" if status is not None else "",
        delay,
        extra={
            "provider": call.provider,
            "model": call.model,
            "operation": call.operation,
            "attempt": attempt,
            "delay": delay,
            "error_type": error_type,
            "status": status,
            "request_id": getattr(error, "request_id", None),
        },
    )


def log_fallback(error: BaseException, next_deployment: str) -> None:
    """A router leaves a deployment that failed with ``error`` for ``next_deployment``."""
    error_type = type(error).__name__
    status = getattr(error, "status", None)
    deployment = getattr(error, "deployment", None)
    logger.warning(
        "%s failed (%s%s); falling back to %s",
        deployment,
        error_type,
        f" {status}" if status is not None else "",
        next_deployment,
        extra={
            "provider": getattr(error, "provider", None),
            "deployment": deployment,
            "next_deployment": next_deployment,
            "error_type": error_type,
            "status": status,
            "request_id": getattr(error, "request_id", None),
        },
    )
