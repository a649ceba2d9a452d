"""A real HTTP/1.1 mock LLM provider server for tests: scripted replies and wire faults.

Public, for your own tests as well as ours::

    from agent_adapter.testing import MockServer, Reply

    async with MockServer() as srv:
        srv.enqueue(Reply.sse([b'data: {"x":1}\\n\\n', b"data: [DONE]\\n\\n"], delay=0.01))
        ...  # point a client at srv.base_url
        assert srv.requests[0].json()["stream"] is True

The server speaks HTTP/1.1 over real loopback sockets (h11 + anyio), so it runs on
asyncio and trio, and its faults (resets, truncated chunked bodies, stalls, trickles)
happen on the wire exactly as a misbehaving provider would produce them.
"""

from __future__ import annotations

from .replies import HeadersLike, RecordedRequest, Reply
from .server import Handler, MockServer, serve_forever

__all__ = ["Handler", "HeadersLike", "MockServer", "RecordedRequest", "Reply", "serve_forever"]
