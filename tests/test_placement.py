"""``interleave``: reasoning put back at its places, the same for every protocol."""

from __future__ import annotations

from agent_adapter.providers.placement import interleave


def test_each_item_goes_back_to_its_position() -> None:
    assert interleave([(0, "r0"), (2, "r2")], ["a", "b"]) == ["r0", "a", "r2", "b"]
    assert interleave([(2, "r2"), (0, "r0")], ["a", "b"]) == ["r0", "a", "r2", "b"]


def test_no_position_goes_first_and_past_the_end_goes_last() -> None:
    assert interleave([(None, "old"), (9, "late")], ["a", "b"]) == ["old", "a", "b", "late"]


def test_nothing_to_place_keeps_the_others_as_they_are() -> None:
    assert interleave([], ["a", "b"]) == ["a", "b"]
    assert interleave([(1, "r")], []) == ["r"]
