"""``agent-adapter batch`` as a user runs it: a subprocess against a mock server started here.

The subprocess gets provider keys and base URLs through its environment (as a
user's shell would give them) and talks to a real ``MockServer`` in this
process, which answers like the fake providers and counts requests in flight.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from agent_adapter.registry import PROVIDERS
from agent_adapter.testing import MockServer, RecordedRequest, Reply
from agent_adapter.testing.fake import provider_reply

pytestmark = pytest.mark.anyio


class Provider:
    """The fake providers, slowed down, counting requests in flight; "fail" in a prompt is a 400."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.now = self.peak = 0

    async def __call__(self, request: RecordedRequest) -> Reply:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            if "fail" in request.body.decode():
                error = {"type": "invalid_request_error", "message": "the model refused: fail"}
                return Reply.error(400, {"error": error})
            await anyio.sleep(self.pause)
            return provider_reply(request)
        finally:
            self.now -= 1


def environment(srv: MockServer | None) -> dict[str, str]:
    """This process's environment with no provider settings but the mock's OpenAI and Anthropic."""
    drop = {name for spec in PROVIDERS for name in (*spec.key_env, *spec.base_url_env)}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONIOENCODING"] = "utf-8"
    if srv is not None:
        env |= {
            "OPENAI_API_KEY": "sk-test-openai",
            "OPENAI_BASE_URL": srv.base_url + "/v1",
            "ANTHROPIC_API_KEY": "sk-test-anthropic",
            "ANTHROPIC_BASE_URL": srv.base_url,
        }
    return env


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "agent_adapter", "batch", *map(str, args)]


async def batch(
    srv: MockServer | None, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = await anyio.run_process(
        command(*args), env=env or environment(srv), check=False, stdin=subprocess.DEVNULL
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def request(custom_id: str, model: str, text: str, **body: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": messages, **body},
    }


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    text = (line if isinstance(line, str) else msgspec.json.encode(line).decode() for line in lines)
    path.write_text("".join(f"{line}\n" for line in text), encoding="utf-8")
    return path


def results(path: Path) -> dict[str, dict[str, Any]]:
    """The output file by custom_id, checking that each appears exactly once."""
    records = [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]
    by_id = {record["custom_id"]: record for record in records}
    assert len(by_id) == len(records), [r["custom_id"] for r in records]
    return by_id


def summary(stderr: str) -> str:
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("batch: "), stderr
    return last


async def test_every_line_gets_a_result_in_the_batch_api_format(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [
        request("q1", "openai/gpt-4o", "first question"),
        request("q2", "anthropic/claude-sonnet-4-5", "second question", max_tokens=100),
        request("q3", "openai/gpt-4o-mini", "third", temperature=0.1, seed=1),
    ]
    source = write_lines(tmp_path / "requests.jsonl", lines)
    out = tmp_path / "results.jsonl"
    async with MockServer(handler=Provider()) as srv:
        done = await batch(srv, source, "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    # Not a terminal: no progress, only the summary.
    assert done.stderr.count("\n") == 1 and "\r" not in done.stderr
    assert summary(done.stderr).startswith("batch: 3 requests: 3 succeeded, 0 failed; ")
    by_id = results(out)
    assert set(by_id) == {"q1", "q2", "q3"}
    for custom_id, text in (("q1", "first question"), ("q3", "third")):
        record = by_id[custom_id]
        assert record["id"].startswith("batch_req_") and record["error"] is None
        response = record["response"]
        assert response["status_code"] == 200 and response["request_id"].startswith("req_mock")
        body = response["body"]
        assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
        choice = body["choices"][0]
        assert choice["message"]["content"] == f"You said: {text}"
        assert choice["finish_reason"] == "stop"
        assert body["usage"]["total_tokens"] > 0
    claude = by_id["q2"]["response"]["body"]
    assert claude["model"] == "claude-sonnet-4-5"
    assert claude["choices"][0]["message"]["content"].startswith("Hello! You said: second")
    assert srv.requests[1].path in ("/v1/messages", "/v1/chat/completions")


async def test_failed_requests_are_results_and_the_run_still_succeeds(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [
        request("ok", "openai/gpt-4o", "fine"),
        request("refused", "openai/gpt-4o", "please fail"),
        request("odd", "openai/gpt-4o", "x", logprobs=True),
        request("bare", "gpt-4o", "no provider named"),
        request("nokey", "mistral/mistral-large-latest", "no key in the environment"),
    ]
    source = write_lines(tmp_path / "requests.jsonl", lines)
    out = tmp_path / "results.jsonl"
    async with MockServer(handler=Provider()) as srv:
        done = await batch(srv, source, "-o", out)
    assert done.returncode == 0, done.stderr
    assert summary(done.stderr).startswith("batch: 5 requests: 1 succeeded, 4 failed; ")
    by_id = results(out)
    assert by_id["ok"]["response"]["status_code"] == 200
    # The provider's HTTP error: the response carries its status and an OpenAI error body.
    refused = by_id["refused"]
    assert refused["error"] is None
    assert refused["response"]["status_code"] == 400
    error = refused["response"]["body"]["error"]
    assert error["message"] == "the model refused: fail"
    assert error["type"] == "invalid_request_error"
    # No HTTP exchange: response is null, error says why.
    odd = by_id["odd"]
    assert odd["response"] is None and odd["error"]["code"] == "validation_error"
    assert odd["error"]["message"].startswith("body.logprobs: is not supported")
    bare = by_id["bare"]["error"]["message"]
    assert bare.startswith("body.model: 'gpt-4o' names no provider") and "--provider" in bare
    nokey = by_id["nokey"]["error"]
    assert nokey["code"] == "authentication_error" and "MISTRAL_API_KEY" in nokey["message"]
    assert "line 3 (odd): body.logprobs: is not supported" in done.stderr
    assert "line 4 (bare): body.model: 'gpt-4o' names no provider" in done.stderr
    assert len(srv.requests) == 2


async def test_malformed_lines_are_reported_by_number_and_do_not_stop_the_others(
    tmp_path: Path,
) -> None:
    lines: list[dict[str, Any] | str] = [
        request("a", "openai/gpt-4o", "one"),
        '{"custom_id": "broken", "body": ',
        "[1, 2]",
        "",
        {"body": {"model": "openai/gpt-4o", "messages": []}},
        request("a", "openai/gpt-4o", "again"),
        {**request("emb", "openai/text-embedding-3-small", "x"), "url": "/v1/embeddings"},
        {**request("extra", "openai/gpt-4o", "x"), "metadata": {}},
        request("b", "openai/gpt-4o", "two"),
    ]
    source = write_lines(tmp_path / "requests.jsonl", lines)
    out = tmp_path / "results.jsonl"
    async with MockServer(handler=Provider()) as srv:
        done = await batch(srv, source, "-o", out)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "line 2: not valid JSON (" in err
    assert "line 3: must be a JSON object" in err
    assert "line 5: custom_id: must be a non-empty string; not run" in err
    assert "line 6: duplicate custom_id 'a' (first on line 1); not run" in err
    assert "line 7 (emb): url: only /v1/chat/completions is served" in err
    assert "line 8 (extra): metadata: unknown key" in err
    assert summary(err).startswith(
        "batch: 8 requests: 2 succeeded, 2 failed, 4 not run (reported above); "
    )
    by_id = results(out)
    assert set(by_id) == {"a", "b", "emb", "extra"}
    a = by_id["a"]["response"]["body"]["choices"][0]["message"]["content"]
    assert a == "You said: one"  # the first line with that custom_id, not the duplicate
    assert by_id["emb"]["error"]["message"].startswith("url: only /v1/chat/completions")
    assert len(srv.requests) == 2


async def test_a_rerun_resumes_after_a_crash_that_cut_a_line(tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(6)]
    source = write_lines(
        tmp_path / "requests.jsonl", [request(i, "openai/gpt-4o", f"question {i}") for i in ids]
    )
    out = tmp_path / "results.jsonl"
    async with MockServer(handler=Provider()) as srv:
        assert (await batch(srv, source, "-o", out)).returncode == 0
        # What a crash leaves: two whole results and the start of a third.
        kept = out.read_bytes().splitlines(keepends=True)
        out.write_bytes(b"".join(kept[:2]) + kept[2][: len(kept[2]) // 2])
        before = {r["custom_id"]: r for r in map(msgspec.json.decode, kept[:2])}
        first_run = len(srv.requests)
        done = await batch(srv, source, "-o", out)
        assert done.returncode == 0, done.stderr
        assert len(srv.requests) - first_run == 4  # the cut one runs again, the two whole do not
    assert "results.jsonl: dropped a truncated last line (an interrupted run)" in done.stderr
    assert summary(done.stderr).startswith(
        "batch: 6 requests: 4 succeeded, 0 failed, 2 already in "
    )
    by_id = results(out)
    assert sorted(by_id) == ids
    for custom_id, record in before.items():
        assert by_id[custom_id] == record  # untouched
    again = await batch(None, source, "-o", out, env=environment(None))  # nothing left to do
    assert again.returncode == 0 and "0 succeeded, 0 failed, 6 already in" in again.stderr


async def test_ctrl_c_loses_nothing_that_finished(tmp_path: Path) -> None:
    ids = [f"c{i:02d}" for i in range(12)]
    source = write_lines(
        tmp_path / "requests.jsonl", [request(i, "openai/gpt-4o", f"q {i}") for i in ids]
    )
    out = tmp_path / "results.jsonl"
    async with MockServer(handler=Provider(pause=0.2)) as srv:
        env = environment(srv)
        async with await anyio.open_process(
            command(source, "-o", out, "--concurrency", "2"), env=env
        ) as process:
            # Each worker writes its result before it sends its next request, so by the
            # fifth request at least three results are written.
            await srv.wait_for_requests(5, timeout=20)
            process.send_signal(signal.SIGINT)
            assert process.stderr is not None
            with anyio.fail_after(20):
                err = b"".join([chunk async for chunk in process.stderr]).decode()
                code = await process.wait()
        assert code == 130, err
        assert "interrupted: finished results are in" in err
        partial = results(out)  # every line whole
        assert 3 <= len(partial) < 12
        done = await batch(srv, source, "-o", out)
        assert done.returncode == 0, done.stderr
    assert sorted(results(out)) == ids


async def test_provider_flag_serves_models_without_a_prefix(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [request("p", "gpt-4o", "bare model")])
    out = tmp_path / "out.jsonl"
    async with MockServer(handler=Provider()) as srv:
        done = await batch(srv, source, "-o", out, "--provider", "openai")
        assert done.returncode == 0, done.stderr
        assert srv.requests[0].json()["model"] == "gpt-4o"
        unknown = await batch(srv, source, "-o", out, "--provider", "nope")
    assert results(out)["p"]["response"]["status_code"] == 200
    assert unknown.returncode == 2 and "unknown provider 'nope'" in unknown.stderr


async def test_concurrency_flag_bounds_requests_on_the_wire(tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "in.jsonl", [request(f"k{i}", "openai/gpt-4o", f"q {i}") for i in range(12)]
    )
    provider = Provider(pause=0.1)
    async with MockServer(handler=provider) as srv:
        done = await batch(srv, source, "-o", tmp_path / "out.jsonl", "--concurrency", "3")
    assert done.returncode == 0, done.stderr
    assert provider.peak == 3
    assert len(results(tmp_path / "out.jsonl")) == 12


async def test_usage_errors_exit_2(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [request("u", "openai/gpt-4o", "x")])
    missing = await batch(None, tmp_path / "nope.jsonl", "-o", tmp_path / "out.jsonl")
    assert missing.returncode == 2 and "nope.jsonl: cannot read" in missing.stderr
    foreign = tmp_path / "notes.txt"
    foreign.write_text("my notes\n", encoding="utf-8")
    refused = await batch(None, source, "-o", foreign)
    assert refused.returncode == 2
    assert "notes.txt: line 1 is not a batch result; not appending" in refused.stderr
    assert foreign.read_text(encoding="utf-8") == "my notes\n"
    same = await batch(None, source, "-o", source)
    assert same.returncode == 2 and "is the input file" in same.stderr
    both = await batch(None, source, "-o", foreign, "--config", "x.toml", "--provider", "openai")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    zero = await batch(None, source, "-o", tmp_path / "out.jsonl", "--concurrency", "0")
    assert zero.returncode == 2 and "must be a positive integer, not '0'" in zero.stderr
    assert not (tmp_path / "out.jsonl").exists()


async def test_config_runs_the_batch_through_the_router(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(
        textwrap.dedent(
            """
            [providers.openai]
            api_key = "env:OPENAI_API_KEY"
            base_url = "env:OPENAI_BASE_URL"
            [models]
            smart = ["openai/gpt-4o"]
            """
        ),
        encoding="utf-8",
    )
    source = write_lines(tmp_path / "in.jsonl", [request("g", "smart", "through a group")])
    async with MockServer(handler=Provider()) as srv:
        done = await batch(srv, source, "-o", tmp_path / "out.jsonl", "--config", config)
    assert done.returncode == 0, done.stderr
    record = results(tmp_path / "out.jsonl")["g"]
    assert record["response"]["status_code"] == 200


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; returns the exit status and what the terminal got."""
    import fcntl
    import termios

    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    process = subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal
    )
    os.close(terminal)
    seen = b""
    try:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            seen += data
    finally:
        os.close(controller)
    return process.wait(timeout=60), seen.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("with_tqdm", [False, True], ids=["status-line", "tqdm"])
async def test_progress_shows_on_a_terminal(tmp_path: Path, with_tqdm: bool) -> None:
    if with_tqdm and importlib.util.find_spec("tqdm") is None:
        pytest.skip("tqdm is not installed (the progress extra)")
    lines: list[dict[str, Any] | str] = [
        request(f"t{i}", "openai/gpt-4o", f"q {i}") for i in range(5)
    ]
    source = write_lines(tmp_path / "in.jsonl", [*lines, "not json"])
    async with MockServer(handler=Provider(pause=0.05)) as srv:
        env = environment(srv)
        if not with_tqdm:  # an installation without the extra
            (tmp_path / "tqdm.py").write_text("raise ImportError('no tqdm here')\n")
            env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
        args = command(source, "-o", tmp_path / "out.jsonl", "--concurrency", "2")
        code, seen = await anyio.to_thread.run_sync(run_on_a_terminal, args, env)
    assert code == 0, seen
    assert "line 6: not valid JSON" in seen
    if with_tqdm:
        assert "5/5" in seen and "req/s" in seen and "failed=0" in seen
    else:
        assert "\r\x1b[K5/5 done, 0 failed, " in seen and "req/s, ETA " in seen
    assert seen.rstrip().splitlines()[-1].startswith("batch: 6 requests: 5 succeeded")


def test_the_modules_import_no_optional_package() -> None:
    code = (
        "import sys, agent_adapter, agent_adapter.cli, agent_adapter.batch, "
        "agent_adapter.batchfile, agent_adapter.config, agent_adapter.openai_format\n"
        "bad = [m for m in ('tqdm', 'trio', 'hypercorn', 'opentelemetry') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
