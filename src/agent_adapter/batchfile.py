"""OpenAI Batch-format JSONL files, run here and resumable: what ``agent-adapter batch`` does.

Each input line is OpenAI's Batch API request input object::

    {"custom_id": "q1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

(``method`` and ``url`` may be left out; no other endpoint is served). The
body is an OpenAI chat body, mapped by ``openai_format.chat_params``. Each
output line is the Batch API's request output object::

    {"id": "batch_req_...", "custom_id": "q1",
     "response": {"status_code": 200, "request_id": "...", "body": {chat.completion}},
     "error": null}

A provider's HTTP error keeps that shape with its status and an OpenAI error
body; a failure with no HTTP status (connection, timeout, a bad line) has
``"response": null`` and ``"error": {"code", "message"}``. The Batch API
splits these into an output and an error file; here both go to one file, in
completion order, so one file says what is done.

The shapes are those of https://platform.openai.com/docs/api-reference/batch/request-input
and .../request-output (``BatchRequestInput`` / ``BatchRequestOutput`` in OpenAI's OpenAPI
spec).

Each result is written and flushed as soon as it completes, so an interrupted
run loses nothing that finished. A run skips the ``custom_id`` s already in the
output file (a truncated last line, left by a crash, is dropped and its
request runs again), so running the same command again resumes. A line
without a usable ``custom_id``, or repeating one, is reported and not run: it
has no result line of its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import anyio
import msgspec

from .batch import BatchProgress, ChatTarget, call, for_each
from .errors import AdapterError, ValidationError
from .openai_format import chat_completion, chat_params, error_body, error_code
from .registry import split_model
from .types import ChatResponse

__all__ = ["FileSummary", "read_done", "request_of", "result_record", "run_file"]

CHAT_URL = "/v1/chat/completions"
_ENVELOPE = frozenset(("custom_id", "method", "url", "body"))
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class _Id(msgspec.Struct):
    """The one field the first pass over a file reads (msgspec skips the rest)."""

    custom_id: Any = None


_decode_id = msgspec.json.Decoder(_Id).decode


@dataclass
class FileSummary:
    """What a run did. ``rejected`` lines were reported and have no result line."""

    requests: int = 0
    skipped: int = 0
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    elapsed: float = 0.0


async def run_file(
    target: ChatTarget,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    concurrency: int = 16,
    require_prefix: bool = False,
    note: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[BatchProgress], None] | None = None,
) -> FileSummary:
    """Run every request of ``input`` not yet in ``output`` through ``target``, appending results.

    ``require_prefix``: a body's model must name its provider
    (``openai/gpt-4o``). ``note`` gets one line per problem with a line of
    the input (or a truncated line dropped from the output); ``on_progress``
    is called once the plan is made (``done=0``) and after each request. An unreadable
    input or an output that is not a results file raises ``ValidationError``.
    """
    summary = FileSummary()
    # Reading the files may take a while for a big batch: off the event loop.
    notes: list[str] = []
    sink, todo = await anyio.to_thread.run_sync(_prepare, input, output, summary, notes.append)
    for message in notes:
        note(message)
    start = anyio.current_time()
    if on_progress is not None:
        on_progress(BatchProgress(0, 0, len(todo), 0.0))

    with sink:

        async def work(item: tuple[int, bytes]) -> None:
            lineno, raw = item
            custom_id, model, parsed = _parse(raw, require_prefix)
            if isinstance(parsed, ValidationError):
                note(f"line {lineno} ({custom_id}): {parsed}")
                result: ChatResponse | AdapterError = parsed
            else:
                result = await call(target, parsed)
            _write(sink, result_record(custom_id, result, model=model))
            if isinstance(result, ChatResponse):
                summary.succeeded += 1
            else:
                summary.failed += 1
            summary.elapsed = anyio.current_time() - start
            if on_progress is not None:
                finished = summary.succeeded + summary.failed
                on_progress(BatchProgress(finished, summary.failed, len(todo), summary.elapsed))

        await for_each(_lines(input, todo), work, concurrency=concurrency, size=len(todo))
    summary.elapsed = anyio.current_time() - start
    return summary


def request_of(line: Any, *, require_prefix: bool = False) -> dict[str, Any]:
    """The ``chat()`` keywords of one decoded input line (``ValidationError``: what is wrong)."""
    if not isinstance(line, dict):
        raise ValidationError("must be a JSON object")
    for key in line:
        if key not in _ENVELOPE:
            raise ValidationError(
                "unknown key (a line has custom_id, method, url, body)", field=key
            )
    if line.get("method", "POST") != "POST":
        raise ValidationError('must be "POST"', field="method")
    if line.get("url", CHAT_URL) != CHAT_URL:
        raise ValidationError(f"only {CHAT_URL} is served", field="url")
    body = line.get("body")
    if not isinstance(body, Mapping):
        raise ValidationError("must be an OpenAI chat request object", field="body")
    params = chat_params(body)
    model = params["model"]
    if require_prefix and split_model(model)[0] is None:
        raise ValidationError(
            f"{model!r} names no provider: write it as provider/model (openai/{model}, "
            "anthropic/...) or pass --provider NAME",
            field="body.model",
        )
    return params


def result_record(
    custom_id: str, result: ChatResponse | AdapterError, *, model: str | None = None
) -> dict[str, Any]:
    """The output line for one request, in the Batch API's request output shape."""
    response: dict[str, Any] | None
    error: dict[str, Any] | None = None
    if isinstance(result, ChatResponse):
        body = chat_completion(result, model=model)
        response = {"status_code": 200, "request_id": result.request_id, "body": body}
    elif result.status is not None:  # the provider answered with an HTTP error
        body = error_body(result)
        response = {"status_code": result.status, "request_id": result.request_id, "body": body}
    else:
        response = None
        error = {"code": error_code(result), "message": str(result)}
    return {
        "id": f"batch_req_{secrets.token_hex(16)}",
        "custom_id": custom_id,
        "response": response,
        "error": error,
    }


def read_done(path: str | os.PathLike[str], note: Callable[[str], None]) -> set[str]:
    """The ``custom_id`` s already in an output file; drops a truncated last line from it.

    A result counts once its newline is written: bytes after the last newline
    are what an interrupted write left, so they are cut off and that request
    runs again. A complete line that is not a result means the file is not
    ours, and appending to it is refused.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return set()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as file:
            file.truncate(end)
        note(
            f"{os.fspath(path)}: dropped a truncated last line (an interrupted run); it runs again"
        )
    done: set[str] = set()
    for lineno, raw in enumerate(data[:end].splitlines(), 1):
        if not raw.strip():
            continue
        try:
            custom_id = _decode_id(raw).custom_id
        except msgspec.DecodeError:
            custom_id = None
        if not isinstance(custom_id, str):
            raise ValidationError(
                f"line {lineno} is not a batch result; not appending to this file",
                field=os.fspath(path),
            )
        done.add(custom_id)
    return done


def _prepare(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    summary: FileSummary,
    note: Callable[[str], None],
) -> tuple[IO[bytes], set[int]]:
    """Read what is done, plan what is not, and open the output for appending."""
    if os.path.exists(input) and os.path.exists(output) and os.path.samefile(input, output):
        raise ValidationError("is the input file", field=os.fspath(output))
    todo = _plan(input, read_done(output, note), summary, note)
    try:
        return open(output, "ab"), todo
    except OSError as exc:
        raise ValidationError(f"cannot write: {exc.strerror}", field=os.fspath(output)) from None


def _plan(
    path: str | os.PathLike[str],
    done: set[str],
    summary: FileSummary,
    note: Callable[[str], None],
) -> set[int]:
    """First pass: the numbers of the lines to run; reports lines that cannot be."""
    first: dict[str, int] = {}
    todo: set[int] = set()
    for lineno, raw in _numbered(path):
        summary.requests += 1
        try:
            custom_id = _decode_id(raw).custom_id
        except msgspec.ValidationError:
            note(f"line {lineno}: must be a JSON object")
            summary.rejected += 1
            continue
        except msgspec.DecodeError as exc:
            note(f"line {lineno}: not valid JSON ({exc})")
            summary.rejected += 1
            continue
        if not isinstance(custom_id, str) or not custom_id:
            note(f"line {lineno}: custom_id: must be a non-empty string; not run")
            summary.rejected += 1
        elif custom_id in first:
            note(f"line {lineno}: duplicate custom_id {custom_id!r} (first on line "
                 f"{first[custom_id]}); not run")  # fmt: skip
            summary.rejected += 1
        else:
            first[custom_id] = lineno
            if custom_id in done:
                summary.skipped += 1
            else:
                todo.add(lineno)
    return todo


def _numbered(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """The input's non-blank lines with their 1-based numbers."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the with below, also when abandoned
    except OSError as exc:
        raise ValidationError(f"cannot read: {exc.strerror}", field=os.fspath(path)) from None
    with file:
        for lineno, raw in enumerate(file, 1):
            if raw.strip():
                yield lineno, raw


def _lines(path: str | os.PathLike[str], todo: set[int]) -> Iterator[tuple[int, bytes]]:
    """Second pass: the lines to run, read lazily."""
    for lineno, raw in _numbered(path):
        if lineno in todo:
            yield lineno, raw


def _parse(
    raw: bytes, require_prefix: bool
) -> tuple[str, str | None, dict[str, Any] | ValidationError]:
    """A planned line's custom_id, its model, and its chat keywords or what is wrong with it."""
    line = _decode(raw)  # the first pass found a JSON object with a string custom_id
    body = line.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    model = model if isinstance(model, str) else None
    try:
        return line["custom_id"], model, request_of(line, require_prefix=require_prefix)
    except ValidationError as error:
        return line["custom_id"], model, error


def _write(sink: IO[bytes], record: dict[str, Any]) -> None:
    """One result, whole and flushed: what finished survives a crash of this process.

    Written on the event loop on purpose: one short append is cheaper than a
    thread hop, and lines from concurrent workers cannot interleave.
    """
    sink.write(_encode(record) + b"\n")
    sink.flush()
