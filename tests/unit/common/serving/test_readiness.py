"""Unit tests of the shared service lifecycle."""

from __future__ import annotations

import gc
import weakref

from merchstore.common.serving.readiness import YOUNG_COLLECTION_THRESHOLD, tune_garbage_collector


class _Node:
    """An object that can sit in a reference cycle and be watched through a weak reference."""

    partner: object = None


def test_startup_objects_are_left_out_of_later_scans_and_young_ones_scanned_less_often() -> None:
    kept = {"built at start-up": [1, 2, 3]}
    garbage = _Node()
    garbage.partner = garbage  # a cycle: only the collector can free it
    watched = weakref.ref(garbage)
    del garbage
    assert any(tracked is kept for tracked in gc.get_objects())
    thresholds = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert watched() is None, "garbage made before the freeze must be collected, not kept"
        assert gc.get_freeze_count() > 0
        assert not any(tracked is kept for tracked in gc.get_objects())
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
