"""``ChatStream.buffered``: chunks decoded from one network read and not yet handed out.

A relay (the gateway) sends what it has when ``buffered`` is 0, so the
events of one upstream read go out in one write.
"""

from __future__ import annotations

import pytest

import agent_adapter as aa
from agent_adapter.testing import MockServer, Reply
from sse_builders import USER, chunk

pytestmark = pytest.mark.anyio


async def test_buffered_counts_what_one_read_brought() -> None:
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": word}) for word in ("a", "b", "c")]
    events += [chunk({}, "stop"), b"data: [DONE]\n\n"]
    async with MockServer() as srv:
        srv.enqueue(Reply.sse(events))  # one write: every event arrives in one read
        router = aa.Router(
            {"m": [aa.Deployment("openai/gpt-4o", api_key="sk-t", base_url=srv.base_url + "/v1")]}
        )
        async with router, router.stream(model="m", messages=USER) as stream:
            assert stream.buffered > 0  # opened: the first content is decoded and waiting
            seen = []
            async for part in stream:
                seen.append((part.delta, stream.buffered))
        assert [delta for delta, _ in seen if delta] == ["a", "b", "c"]
        assert seen[0][1] > 0  # more chunks were already decoded
        assert seen[-1][1] == 0
