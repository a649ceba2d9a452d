"""Every example in ``examples/`` runs against the mock server and prints something real.

Each example is run as a subprocess with every provider key (and Ollama's
address) removed from the environment, so it falls back to the local mock
server: no key, no network. The runs are started together on a small thread
pool when the first test of this module asks for them, so the whole module
takes a few seconds of wall time rather than the sum of ~50 process starts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent_adapter.registry import PROVIDERS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 60.0
FEATURE_PROVIDERS = ("openai", "anthropic", "gemini", "zhipu", "ollama")
USAGE = r"usage: \d+ prompt \+ [1-9]\d* completion = [1-9]\d* tokens"


def _number(pattern: str, out: str) -> float:
    match = re.search(pattern, out)
    assert match, f"{pattern!r} not found in:\n{out}"
    return float(match.group(1))


def _cancellation(out: str) -> None:
    assert "move_on_after: cancelled=True" in out
    # Closing must not wait for the rest of the answer (seconds at 100 ms per mock chunk).
    assert _number(r"returned (-?\d+\.\d) ms after the deadline", out) < 250
    assert "break: kept 3 chunks" in out
    assert _number(r"stream closed (\d+\.\d) ms after the break", out) < 250
    assert re.search(r"partial response so far: '.+'", out)


def _streaming(out: str) -> None:
    assert _number(r"\| (\d+) chunks in", out) >= 3
    assert _number(r"ttft (\d+\.\d) ms", out) > 0


def _trio(out: str) -> None:
    assert _number(r"the heartbeat task ran (\d+) times", out) >= 1


def _embeddings(out: str) -> None:
    values = [float(v) for v in re.findall(r"\) = ([+-]\d\.\d{3})$", out, re.MULTILINE)]
    assert len(values) == 2, out
    assert all(-1.0 <= v <= 1.0 for v in values), out


@dataclass(frozen=True)
class Case:
    """One example run: the script, its ``--provider`` (None: none), what its output must show."""

    script: str
    provider: str | None = None
    expect: tuple[str, ...] = ()
    check: Callable[[str], None] | None = field(default=None, compare=False)
    first_mock: str | None = None

    @property
    def id(self) -> str:
        return self.script if self.provider is None else f"{self.script}-{self.provider}"

    @property
    def mock(self) -> str:
        """The provider whose mock the example must announce."""
        if self.provider is not None:
            return self.provider
        return self.first_mock or self.script.removesuffix("_chat")


PROVIDER_EXAMPLES = [
    Case("openai_chat", expect=(r"^You said: Describe the Pacific", "finish: stop", USAGE)),
    Case(
        "anthropic_chat", expect=(r"^Hello! You said: Name three", r"stop \(raw: end_turn\)", USAGE)
    ),
    Case("gemini_chat", expect=(r"^You said: Why is the sky blue", r"stop \(STOP\)", USAGE)),
    Case(
        "zhipu_chat", expect=(r"^\(thinking\) \S", r"^\(answer\) \S", USAGE + r" \(\d+ reasoning\)")
    ),
    Case("ollama_chat", expect=(r"^Hello from the mock Ollama!", "finish: stop", USAGE)),
    Case(
        "groq_chat", expect=(r"^You said: What is a llama", r"provider: groq \| model: llama-3.3")
    ),
    Case(
        "router",
        first_mock="anthropic",
        expect=(
            r"^\[no \S+ or GEMINI_API_KEY set: using the mock gemini server",
            r"^smart: Hello! You said: Name three rivers",
            r"^answered by anthropic \(claude-sonnet-4-5\) \| deployment "
            r"anthropic:claude-sonnet-4-5@http://127\.0\.0\.1:\d+#[0-9a-f]{8}$",
            r"^fast, streamed: You said: Name three rivers",
            r"^streamed by gemini \(gemini-2\.5-flash\)$",
            r"^cheap: the cost strategy chose gemini$",
            r"^broken: 2 deployments failed:$",
            r"^  1\. openai:gpt-4o@http://127\.0\.0\.1:9/v1#[0-9a-f]{8}: APIConnectionError$",
            r"^  2\. openai:o3@http://127\.0\.0\.1:9/v1#[0-9a-f]{8}: APIConnectionError$",
            USAGE,
        ),
    ),
]

FEATURES: dict[str, tuple[tuple[str, ...], Callable[[str], None] | None]] = {
    "streaming": (
        (r"^\[\+ *\d+\.\d ms\] text='", r"finish=stop", r"^answer: \S", USAGE),
        _streaming,
    ),
    "tools_loop": (
        (
            r"^tool call: get_weather\(\{\"city\":\"[^\"]+\"\}\) -> \{\"city\"",
            r"^final answer \(turn 2\): \S",
        ),
        None,
    ),
    "structured_output": ((r"^raw JSON: \{", r"^parsed:   City\(name='\w+', country="), None),
    "embeddings": ((r"^3 vectors of \d+ dimensions from \S",), _embeddings),
    "reasoning": ((r"^reasoning=", USAGE), None),
    "cancellation": ((r"^a normal call: '.+'", r"next call still works: '.+'"), _cancellation),
    "sync_client": ((r"^chat: \S", r"^stream: \S", "finish: stop", USAGE), None),
    "trio_app": ((r"^event loop: trio$", r"ttft \d+\.\d ms", USAGE), _trio),
    "batch": (
        (
            r"^1\. 'Name a prime number above 100\.' -> '.+'$",
            r"^5\. .+ -> .+$",
            r"^6\. failed: ValidationError: temperature: ",
            r"^5 answered, 1 failed \(ValidationError: temperature: .+\) in \d+ ms$",
            r"^results\.jsonl: 3 lines; a second run added 0 and skipped 3$",
            r"^first line: custom_id=q1 status_code=200 object=chat\.completion$",
        ),
        None,
    ),
    "observability": (
        (
            r"^\[hook\] chat \S+: ok in \d+\.\d ms \(ttfb \d+\.\d ms, ttft -, tpot -, new",
            r"^\[hook\] stream \S+: ok in \d+\.\d ms \(ttfb \d+\.\d ms, ttft \d+\.\d ms, .*pooled",
            r"1 attempt\(s\), \d+\+[1-9]\d* tokens, \$0\.\d{6}, 1 message\(s\) / \d+ bytes",
            r"^\[span\] chat \S+ \(\d+\.\d ms\) gen_ai\.provider\.name=",
            r"^stream metrics: ttft \d+\.\d ms",
        ),
        None,
    ),
}

NO_EMBEDDINGS = {"anthropic"}  # Anthropic has no embeddings endpoint


def _reasoning_expect(provider: str) -> tuple[str, ...]:
    if provider == "openai":  # Chat Completions returns no reasoning text
        return (r"^\(openai returned no reasoning text\) answer:\n\S",)
    return (r"^--- reasoning \([1-9]\d* characters\) above; answer:\n\S",)


def _cases() -> list[object]:
    return list(_each_case())


def _each_case() -> Iterator[object]:
    for case in PROVIDER_EXAMPLES:
        yield pytest.param(case, id=case.id)
    for script, (expect, check) in FEATURES.items():
        for provider in FEATURE_PROVIDERS:
            if script == "embeddings" and provider in NO_EMBEDDINGS:
                continue
            extra = _reasoning_expect(provider) if script == "reasoning" else ()
            case = Case(script, provider, expect + extra, check)
            yield pytest.param(case, id=case.id)


def _environment() -> dict[str, str]:
    """This process's environment minus every provider key and endpoint variable."""
    drop = {name for spec in PROVIDERS for name in (*spec.key_env, *spec.base_url_env)}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONWARNINGS", None)
    return env


def _run(case: Case, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-W", "error", str(EXAMPLES / f"{case.script}.py")]
    if case.provider is not None:
        args += ["--provider", case.provider]
    return subprocess.run(
        args,
        env=env,
        cwd=EXAMPLES.parent,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """Start every selected example at once (a few at a time), keyed by case id."""
    cases: list[Case] = []
    for item in request.session.items:
        if isinstance(item, pytest.Function) and item.module is request.module:
            callspec = getattr(item, "callspec", None)
            case = callspec.params.get("case") if callspec is not None else None
            if isinstance(case, Case):
                cases.append(case)
    env = _environment()
    workers = min(8, (os.cpu_count() or 2) + 2)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="example")
    try:
        yield {case.id: pool.submit(_run, case, env) for case in cases}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def test_every_example_is_covered() -> None:
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    covered = {case.script for case in PROVIDER_EXAMPLES} | set(FEATURES)
    assert scripts == covered


def test_every_example_has_a_docstring_saying_how_to_run_it() -> None:
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith('"""'), path.name
        if not path.name.startswith("_"):
            assert f"python examples/{path.name}" in text, path.name


@pytest.mark.parametrize("case", _cases())
def test_example(case: Case, runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    result = runs[case.id].result()
    out = result.stdout
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{out}\nstderr:\n{result.stderr}"
    )
    assert result.stderr == ""
    # It used the mock (no key in the environment), and said so on its first line.
    assert re.match(
        rf"\[no \S+.* set: using the mock {case.mock} server at http://127\.0\.0\.1:\d+", out
    ), out
    for pattern in case.expect:
        assert re.search(pattern, out, re.MULTILINE), f"{pattern!r} not found in:\n{out}"
    if case.check is not None:
        case.check(out)
