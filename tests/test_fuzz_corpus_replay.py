"""Replays every fuzz corpus through its harness, so a crash found once stays fixed.

Discovery is by name: ``fuzz/<name>_fuzz.py`` is the harness for the files in
``fuzz/corpus/<name>/``. Each harness exposes ``TestOneInput(data: bytes)``
and imports without atheris. A harness without a corpus, or a corpus without
a harness, fails here instead of being skipped. ``fuzz/`` goes on ``sys.path``,
as when a harness runs as a script, for the helpers the harnesses share
(``fuzz/_harness.py``: no ``_fuzz.py`` suffix, so not taken for a harness).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CORPUS = FUZZ / "corpus"
SUFFIX = "_fuzz.py"

HARNESSES = {p.name.removesuffix(SUFFIX): p for p in sorted(FUZZ.glob(f"*{SUFFIX}"))}
CORPORA = {p.name: p for p in sorted(CORPUS.iterdir()) if p.is_dir()} if CORPUS.is_dir() else {}
INPUTS = [
    pytest.param(name, path, id=f"{name}/{path.relative_to(CORPORA[name])}")
    for name in sorted(HARNESSES.keys() & CORPORA.keys())
    for path in sorted(CORPORA[name].rglob("*"))
    if path.is_file()
]


@cache
def harness(name: str) -> Callable[[bytes], None]:
    """Load ``fuzz/<name>_fuzz.py`` from its path and return its ``TestOneInput``."""
    if str(FUZZ) not in sys.path:
        sys.path.insert(0, str(FUZZ))
    module_name = f"_fuzz_harness_{name}"
    spec = importlib.util.spec_from_file_location(module_name, HARNESSES[name])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    assert "atheris" not in vars(module), f"{name}: import atheris inside main(), not at the top"
    test_one_input = getattr(module, "TestOneInput", None)
    assert callable(test_one_input), f"{HARNESSES[name]} defines no TestOneInput(data: bytes)"
    return test_one_input  # type: ignore[no-any-return]


def test_harnesses_found() -> None:
    assert {"sse", "ndjson"} <= HARNESSES.keys()


@pytest.mark.parametrize("name", sorted(HARNESSES.keys() | CORPORA.keys()))
def test_every_harness_has_a_corpus_and_every_corpus_a_harness(name: str) -> None:
    assert name in HARNESSES, f"fuzz/corpus/{name}/ has no harness fuzz/{name}{SUFFIX}"
    assert name in CORPORA, f"fuzz/{name}{SUFFIX} has no corpus directory fuzz/corpus/{name}/"
    assert any(p.is_file() for p in CORPORA[name].rglob("*")), f"fuzz/corpus/{name}/ is empty"


@pytest.mark.parametrize(("name", "path"), INPUTS)
def test_replay(name: str, path: Path) -> None:
    harness(name)(path.read_bytes())
