"""``agent-adapter``: ``demo``, ``chat``, ``batch``, ``mock``, ``serve`` (the gateway), ``keys``.

Everything is imported inside the command that needs it, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from .batch import BatchProgress

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="agent-adapter", description="One async client for every LLM provider."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="stream a tool-calling conversation from a mock server")
    demo.add_argument("--delay", type=float, default=0.02, help="seconds between streamed chunks")

    chat = commands.add_parser("chat", help="stream one answer from a real provider")
    chat.add_argument("-m", "--model", required=True, help="provider/model, e.g. openai/gpt-4o")
    chat.add_argument("-s", "--system", help="system prompt")
    chat.add_argument("--base-url", help="override the provider's base URL")
    chat.add_argument("prompt", help="what to ask")

    batch = commands.add_parser(
        "batch",
        help="run an OpenAI Batch-format JSONL file here, resumably",
        description="Run every request of INPUT (OpenAI's Batch API input format) and append "
        "each result to OUTPUT as it completes (its output format). Running the same command "
        "again skips what OUTPUT already has. Exits 0 once the file was processed, even if "
        "some requests failed (their lines say why); 2 on a usage error; 130 on Ctrl-C.",
    )
    batch.add_argument("input", help="the requests, one JSON object a line")
    batch.add_argument("-o", "--output", required=True, help="the results file (appended to)")
    batch.add_argument("--concurrency", type=_positive, default=16, help="requests at once (16)")
    source = batch.add_mutually_exclusive_group()
    source.add_argument("--config", help="a Router config file (TOML): models name its groups")
    source.add_argument("--provider", help="the provider of models without a provider/ prefix")

    mock = commands.add_parser("mock", help="run the mock provider server until Ctrl-C")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=0, help="0 picks a free port")

    serve = commands.add_parser(
        "serve",
        help="run the OpenAI- and Anthropic-compatible gateway (needs the server extra)",
        description="Serve /v1/chat/completions, /v1/embeddings, /v1/models, /v1/messages, "
        "/healthz, /readyz and /metrics over a Router. Without --config: every provider whose "
        "key is in the environment, as provider/model, on loopback only.",
    )
    serve.add_argument("--config", help="a Router config file (TOML) with a [gateway] table")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port (8080)")
    serve.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve a non-loopback address without client keys (anyone reaching it may use it)",
    )
    serve.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="on SIGTERM, how long requests and streams may take to finish before they are "
        "cut (default: [gateway] grace_period, 30)",
    )
    serve.add_argument("--certfile", help="serve https: the certificate chain (PEM)")
    serve.add_argument("--keyfile", help="serve https: the certificate's private key (PEM)")
    serve.add_argument(
        "--behind-proxy",
        action="store_true",
        help="a TLS-terminating reverse proxy is in front: trust its X-Forwarded-For and "
        "X-Forwarded-Proto (from --trusted-proxy or [gateway] trusted_proxies; else loopback)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="with --behind-proxy: a proxy address or network (10.0.0.0/8); repeatable",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes serving the socket (1); metrics are summed across them",
    )
    serve.add_argument("--worker-fd", type=int, help=argparse.SUPPRESS)  # set for the workers

    keys = commands.add_parser("keys", help="client keys for the gateway")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    new = key_commands.add_parser("new", help="print a fresh key once, and its config lines")
    new.add_argument("--name", required=True, help="the key's name, e.g. team-a")

    args = parser.parse_args(argv)
    if args.command == "serve":
        from .gateway.serve import main as serve_main

        return serve_main(
            args.config,
            host=args.host,
            port=args.port,
            backend=args.backend,
            insecure_no_auth=args.insecure_no_auth,
            grace=args.grace,
            certfile=args.certfile,
            keyfile=args.keyfile,
            behind_proxy=args.behind_proxy,
            trusted_proxies=args.trusted_proxy,
            workers=args.workers,
            argv=list(sys.argv[1:] if argv is None else argv),
            worker_fd=args.worker_fd,
        )
    if args.command == "keys":
        from .errors import ValidationError
        from .gateway.serve import new_key_text

        try:
            print(new_key_text(args.name), end="")
        except ValidationError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    try:
        if args.command == "demo":
            anyio.run(_demo, args.delay)
        elif args.command == "chat":
            return anyio.run(_chat, args.model, args.prompt, args.system, args.base_url)
        elif args.command == "batch":
            return anyio.run(
                _batch, args.input, args.output, args.concurrency, args.config, args.provider
            )
        elif args.command == "mock":
            anyio.run(_mock, args.host, args.port)
    except KeyboardInterrupt:
        if args.command == "batch":
            print(
                f"interrupted: finished results are in {args.output}; "
                "run the same command again to resume",
                file=sys.stderr,
            )
        return 130
    return 0


async def _demo(delay: float) -> None:
    import agent_adapter as aa
    from agent_adapter.testing import MockServer
    from agent_adapter.testing.fake import provider_reply

    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    async with (
        MockServer(handler=lambda request: provider_reply(request, delay=delay)) as server,
        aa.Client("openai", api_key="sk-demo", base_url=server.base_url + "/v1") as client,
    ):
        print(f"mock provider on {server.base_url} (no key, no network)\n")
        print(f"user: {messages[0]['content']}")
        for _turn in range(3):
            async with client.stream(model="gpt-4o", messages=messages, tools=tools) as stream:
                print("assistant: ", end="", flush=True)
                async for chunk in stream:
                    print(chunk.delta, end="", flush=True)
                response = stream.response
            print()
            messages.append(response.message)
            if not response.tool_calls:
                break
            for call in response.tool_calls:
                print(f"  -> tool call {call.name}({call.arguments}) [{call.id}]")
                result = '{"temp_c": 18, "sky": "overcast"}'
                print(f"  <- tool result {result}")
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        usage = response.usage
        elapsed = response.metrics.duration or 0.0
        rate = stream.chunk_count / elapsed if elapsed else 0.0
        print(
            f"\nttft {1000 * (response.metrics.ttft or 0):.1f} ms | {stream.chunk_count} chunks, "
            f"{rate:.0f} chunks/s | usage: "
            + (
                f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
                f"= {usage.total_tokens} tokens"
                if usage
                else "none"
            )
        )


async def _chat(model: str, prompt: str, system: str | None, base_url: str | None) -> int:
    import agent_adapter as aa

    messages = [{"role": "user", "content": prompt}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    try:
        async with aa.Client(base_url=base_url) as client:
            async with client.stream(model=model, messages=messages) as stream:
                async for chunk in stream:
                    print(chunk.delta, end="", flush=True)
            print()
            response = stream.response
            if response.usage:
                print(
                    f"[{response.provider} {response.model}: {response.usage.total_tokens} tokens, "
                    f"ttft {1000 * (response.metrics.ttft or 0):.0f} ms]",
                    file=sys.stderr,
                )
    except aa.AdapterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


async def _mock(host: str, port: int) -> None:
    from agent_adapter.testing import serve_forever
    from agent_adapter.testing.fake import provider_reply

    def ready(bound: int) -> None:
        print(f"mock provider listening on http://{host}:{bound}", flush=True)
        print("base URLs: openai http://HOST/v1, anthropic/gemini/ollama http://HOST", flush=True)

    await serve_forever(host=host, port=port, handler=provider_reply, ready=ready)


async def _batch(
    input: str, output: str, concurrency: int, config: str | None, provider: str | None
) -> int:
    import agent_adapter as aa
    from agent_adapter.batchfile import run_file

    try:
        target = _batch_target(config, provider)
    except aa.AdapterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    display = _progress_display(sys.stderr)
    try:
        summary = await run_file(
            target,
            input,
            output,
            concurrency=concurrency,
            require_prefix=config is None and provider is None,
            note=display.note,
            on_progress=display.update,
        )
    except aa.ValidationError as error:
        display.close()
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        display.close()
        await target.aclose()
    rate = (summary.succeeded + summary.failed) / summary.elapsed if summary.elapsed else 0.0
    parts = [f"{summary.succeeded} succeeded", f"{summary.failed} failed"]
    if summary.rejected:
        parts.append(f"{summary.rejected} not run (reported above)")
    if summary.skipped:
        parts.append(f"{summary.skipped} already in {output}")
    print(
        f"batch: {summary.requests} requests: {', '.join(parts)}; "
        f"{summary.elapsed:.1f} s, {rate:.1f} req/s",
        file=sys.stderr,
    )
    return 0


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least one."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _batch_target(config: str | None, provider: str | None) -> Any:
    """What the batch runs on: a Router from ``config``, else a ``Client``."""
    import agent_adapter as aa

    if config is None:
        return aa.Client(provider)
    return aa.Router.from_config(config)


def _progress_display(stream: Any) -> _Display:
    """A progress bar on a terminal (tqdm when installed), nothing but notes elsewhere."""
    if not stream.isatty():
        return _Display(stream)
    import importlib

    try:
        tqdm = importlib.import_module("tqdm").tqdm  # the optional `progress` extra
    except ImportError:
        return _StatusLine(stream)
    return _Bar(stream, tqdm)


class _Display:
    """Where a batch reports: notes (problems with lines) always, progress on terminals only."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def note(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def update(self, progress: BatchProgress) -> None:
        pass

    def close(self) -> None:
        pass


class _StatusLine(_Display):
    """One status line, redrawn in place with a carriage return, at most ten times a second."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.last: BatchProgress | None = None
        self.drawn = 0.0
        self.shown = False

    def note(self, message: str) -> None:
        self.stream.write("\r\x1b[K" if self.shown else "")
        super().note(message)
        if self.last is not None:
            self._draw(self.last)

    def update(self, progress: BatchProgress) -> None:
        self.last = progress
        now = time.monotonic()
        if now - self.drawn >= 0.1 or progress.done == progress.total:
            self._draw(progress)

    def _draw(self, p: BatchProgress) -> None:
        self.drawn = time.monotonic()
        self.shown = True
        eta = "-" if p.eta is None else _duration(p.eta)
        self.stream.write(
            f"\r\x1b[K{p.done}/{p.total} done, {p.failed} failed, {p.rate:.1f} req/s, ETA {eta}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
            self.last = None


class _Bar(_Display):
    """tqdm's bar: done/total, rate and ETA, with the failures as a postfix."""

    def __init__(self, stream: Any, tqdm: Any) -> None:
        super().__init__(stream)
        self.tqdm = tqdm
        self.bar: Any = None

    def note(self, message: str) -> None:
        self.tqdm.write(message, file=self.stream)

    def update(self, progress: BatchProgress) -> None:
        if self.bar is None:
            self.bar = self.tqdm(
                total=progress.total, unit="req", file=self.stream, dynamic_ncols=True
            )
        self.bar.set_postfix(failed=progress.failed, refresh=False)
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
