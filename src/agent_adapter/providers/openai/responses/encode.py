"""Request encoding: a ``ChatRequest`` as the ``POST /responses`` body.

The mapping follows the reference (https://platform.openai.com/docs/api-reference/responses/create)
and the migration guide (https://platform.openai.com/docs/guides/migrate-to-responses):

* the system and developer messages that open the conversation become
  ``instructions`` (joined by a blank line); one later in the conversation stays
  in its place as an input message with its role;
* user and assistant messages are ``message`` items (user parts as
  ``input_text``, ``input_image``, ``input_file``); an assistant's tool calls are
  ``function_call`` items and tool results ``function_call_output`` items;
* reasoning items go back unchanged, in their place before the calls of their
  turn (https://platform.openai.com/docs/guides/reasoning, "Keeping reasoning
  items in context"). The API pairs a reasoning item with the item that
  followed it by that item's id, so the calls of that turn carry their
  ``fc_...`` ids too, and only then: a call id without its reasoning item is
  refused. Without ``store`` (``extra={"store": False}``) the server keeps
  nothing, so the body asks for ``include: ["reasoning.encrypted_content"]`` and
  a reasoning item without encrypted content is left out. On an assistant turn
  without tool calls they are left out as well: its message item would have to
  go back under its own id, which we do not keep;
* function tools are flat; ``strict`` is sent as ``false`` when the caller left it
  unset, because the Responses API otherwise makes every schema strict, where
  Chat Completions does not (https://platform.openai.com/docs/guides/function-calling);
* ``response_format`` is ``text.format``, a reasoning effort is
  ``reasoning: {"effort", "summary": "auto"}``, ``max_tokens`` is
  ``max_output_tokens``, ``prompt_cache_key`` is sent as it is; ``store``,
  ``previous_response_id`` and the rest go in ``extra``, merged last (an
  ``include`` list there is joined with ours);
* ``function_call_output`` has no error flag: a tool message with ``is_error``
  goes with its content unchanged, as on Chat Completions. ``cache`` markers
  are not sent: OpenAI caches prompt prefixes on its own
  (https://platform.openai.com/docs/guides/prompt-caching).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from ....errors import ValidationError
from ....types import (
    ChatRequest,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    ReasoningItem,
    TextPart,
)
from ...base import data_url, json_encode
from ...placement import interleave
from ..encode import image_url
from .wire import (
    Body,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputFile,
    InputImage,
    InputItem,
    InputPart,
    InputText,
    MessageItem,
    ReasoningConfig,
    ReasoningOut,
    SummaryText,
    TextConfig,
    TextFormat,
)

__all__ = ["ENCRYPTED_CONTENT", "responses_body"]

ENCRYPTED_CONTENT = "reasoning.encrypted_content"


def responses_body(request: ChatRequest, model: str) -> bytes:
    """The body for ``request``, naming ``model`` (Azure: the deployment)."""
    extra = request.extra or {}
    stateless = extra.get("store") is False
    lead = 0
    while lead < len(request.messages) and request.messages[lead].role in ("system", "developer"):
        lead += 1
    body = Body(model=model, input=_items(request.messages[lead:], stateless))
    if lead:
        body.instructions = "\n\n".join(m.text() for m in request.messages[:lead])
    if request.stream:
        body.stream = True
    if request.temperature is not None:
        body.temperature = request.temperature
    if request.top_p is not None:
        body.top_p = request.top_p
    if request.max_tokens is not None:
        body.max_output_tokens = request.max_tokens
    if request.tools:
        body.tools = [
            FunctionTool(
                name=t.name,
                description=UNSET if t.description is None else t.description,
                parameters=t.parameters,
                strict=bool(t.strict),
            )
            for t in request.tools
        ]
    choice = request.tool_choice
    if isinstance(choice, dict):
        body.tool_choice = {"type": "function", "name": choice["function"]["name"]}
    elif choice is not None:
        body.tool_choice = choice
    if request.parallel_tool_calls is not None:
        body.parallel_tool_calls = request.parallel_tool_calls
    fmt = request.response_format
    if fmt is not None:
        if fmt.type == "json_object":
            body.text = TextConfig(TextFormat(type="json_object"))
        elif fmt.schema is None:
            raise ValidationError("json_schema needs a schema", field="response_format")
        else:
            body.text = TextConfig(
                TextFormat(type="json_schema", name=fmt.name, schema=fmt.schema, strict=fmt.strict)
            )
    if request.reasoning is not None:
        body.reasoning = _reasoning(request.reasoning)
    if stateless:
        body.include = [ENCRYPTED_CONTENT]
    if request.user is not None:
        body.user = request.user
    if request.prompt_cache_key is not None:
        body.prompt_cache_key = request.prompt_cache_key
    if not extra:
        return json_encode(body)
    merged: dict[str, Any] = msgspec.to_builtins(body)
    ours = merged.get("include", [])
    merged.update(extra)
    theirs = extra.get("include")
    if ours and isinstance(theirs, list):
        merged["include"] = [*theirs, *(i for i in ours if i not in theirs)]
    return json_encode(merged)


def _reasoning(reasoning: str | dict[str, Any]) -> ReasoningConfig:
    """``{"effort", "summary"}``: a summary is asked for (``auto``) unless reasoning is off."""
    if isinstance(reasoning, str):
        effort: Any = reasoning
        summary: Any = "auto"
    else:
        effort = reasoning.get("effort")
        summary = reasoning.get("summary", "auto")
    config = ReasoningConfig()
    if effort is not None:
        config.effort = effort
    if summary and effort != "none":
        config.summary = summary
    return config


def _items(messages: list[Message], stateless: bool) -> list[InputItem]:
    items: list[InputItem] = []
    for m in messages:
        if m.role == "assistant":
            items.extend(_assistant(m, stateless))
        elif m.role == "tool":
            items.append(FunctionCallOutputItem(call_id=m.tool_call_id or "", output=m.text()))
        elif m.role == "user" and isinstance(m.content, list):
            items.append(MessageItem(role="user", content=[_part(p) for p in m.content]))
        else:
            items.append(MessageItem(role=m.role, content=m.text()))
    return items


def _assistant(m: Message, stateless: bool) -> list[InputItem]:
    """An assistant turn's items: reasoning in its place, then the text, then the calls."""
    reasoning = _reasoning_items(m.reasoning_items, stateless) if m.tool_calls else []
    others: list[InputItem] = []
    text = m.text() or m.refusal
    if text:
        others.append(MessageItem(role="assistant", content=text))
    for call in m.tool_calls or ():
        item = FunctionCallItem(call_id=call.id, name=call.name, arguments=call.arguments)
        if reasoning and call.item_id:
            item.id = call.item_id
        others.append(item)
    return interleave(reasoning, others)


def _reasoning_items(
    items: list[ReasoningItem] | None, stateless: bool
) -> list[tuple[int | None, ReasoningOut]]:
    """Our reasoning items as the API's, with their positions (see ``wire.reasoning_items``):
    consecutive entries with one id are one item, every summary part in order."""
    found: list[tuple[int | None, ReasoningOut]] = []
    for r in items or ():
        if r.type != "reasoning" or not r.id:
            continue  # another provider's thinking block
        if not found or found[-1][1].id != r.id:
            found.append((r.index, ReasoningOut(id=r.id, summary=[])))
        out = found[-1][1]
        if r.text is not None:
            out.summary.append(SummaryText(r.text))
        if r.data is not None and out.encrypted_content is UNSET:
            out.encrypted_content = r.data
    kept: list[tuple[int | None, ReasoningOut]] = []
    dropped = 0  # positions of the items left out, so the later ones keep their place
    for index, out in found:
        if stateless and out.encrypted_content is UNSET:  # the server has nothing to find
            dropped += 1
            continue
        kept.append((None if index is None else index - dropped, out))
    return kept


def _part(part: ContentPart) -> InputPart:
    if isinstance(part, TextPart):
        return InputText(part.text)
    if isinstance(part, ImagePart):
        return InputImage(detail=part.detail or "auto", image_url=image_url(part))
    if isinstance(part, FilePart):
        ref = InputFile()
        if part.file_id:
            ref.file_id = part.file_id
        if part.filename:
            ref.filename = part.filename
        if part.data is not None:
            media_type = part.media_type or "application/pdf"
            ref.file_data = data_url(media_type, part.data)
            if ref.filename is UNSET:
                ref.filename = "file." + media_type.rpartition("/")[2].split("+")[0]
        elif part.url and not part.file_id:
            ref.file_url = part.url
        return ref
    raise ValidationError("the Responses API takes no audio input parts", field="messages")
