"""The bot's garbage-collector settings, applied once start-up is done."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.app import GC_THRESHOLDS, tune_garbage_collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_heap_is_frozen_and_young_collections_are_rarer() -> None:
    built_at_start_up = [{"a": [1]} for _ in range(100)]
    tune_garbage_collector()
    assert gc.get_freeze_count() >= len(built_at_start_up)
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 10 * 700  # CPython's default young threshold


@pytest.mark.usefixtures("restored_gc")
def test_cycles_are_still_collected() -> None:
    tune_garbage_collector()

    class Node:
        def __init__(self) -> None:
            self.me = self

    collected = []
    node = Node()
    weakref.finalize(node, collected.append, True)
    del node
    assert collected == []  # a cycle: only the collector frees it
    allocated = [[] for _ in range(GC_THRESHOLDS[0] + 1)]  # enough for a young collection
    assert collected == [True]
    del allocated
