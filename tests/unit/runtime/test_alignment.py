"""Barrier alignment as a small object: blocking, release, ended inputs, later barriers."""

from __future__ import annotations

from runtime.alignment import Alignment
from runtime.messages import Barrier


def ids(aligned: list) -> list[int]:  # type: ignore[type-arg]
    return [a.barrier.checkpoint_id for a in aligned]


def test_exactly_once_blocks_each_input_until_the_last_barrier_arrives() -> None:
    a = Alignment(3, exactly_once=True)
    assert a.on_barrier(2, Barrier(7)) == [] and a.blocked == {2}
    assert a.on_barrier(0, Barrier(7)) == [] and a.blocked == {0, 2}
    assert a.in_progress
    assert ids(a.on_barrier(1, Barrier(7))) == [7]
    assert a.blocked == set() and not a.in_progress


def test_at_least_once_counts_but_never_blocks() -> None:
    a = Alignment(2, exactly_once=False)
    assert a.on_barrier(0, Barrier(1)) == [] and a.blocked == set()
    assert ids(a.on_barrier(1, Barrier(1))) == [1]


def test_an_ended_input_no_longer_holds_a_checkpoint_back() -> None:
    a = Alignment(2, exactly_once=True)
    assert a.on_barrier(0, Barrier(3)) == []
    assert ids(a.on_end_of_input(1)) == [3]
    assert a.blocked == set()
    # after the end, one input is enough
    assert ids(a.on_barrier(0, Barrier(4))) == [4]


def test_without_blocking_an_input_may_run_ahead_and_checkpoints_align_in_order() -> None:
    a = Alignment(2, exactly_once=False)
    assert a.on_barrier(0, Barrier(1)) == []
    assert a.on_barrier(0, Barrier(2)) == []  # input 0 is not blocked: it runs ahead
    assert ids(a.on_barrier(1, Barrier(1))) == [1]
    assert ids(a.on_barrier(1, Barrier(2))) == [2]


def test_alignment_time_is_measured_from_the_first_barrier() -> None:
    now = [10.0]
    a = Alignment(2, exactly_once=True, clock=lambda: now[0])
    a.on_barrier(0, Barrier(1))
    now[0] = 10.25
    [aligned] = a.on_barrier(1, Barrier(1))
    assert aligned.alignment_ms == 250.0
