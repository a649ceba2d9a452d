"""The command line, run as a user would: a subprocess with no key and no network."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "agent_adapter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_demo_streams_a_tool_call_and_prints_metrics() -> None:
    result = run("demo", "--delay", "0.001")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "-> tool call get_weather(" in out
    assert "<- tool result" in out
    assert "Here is what the tool returned" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("ttft ") and "chunks/s" in last and "tokens" in last


def test_chat_without_a_key_names_the_env_var() -> None:
    result = run("chat", "-m", "openai/gpt-4o", "hi")
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr
    result = run("chat", "-m", "gpt-4o", "hi")
    assert result.returncode == 2
    assert "names no provider" in result.stderr
