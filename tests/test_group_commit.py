"""Group commit (invocations/group_commit.py): callers that arrive while a flush runs share the next
one, a lone caller waits for nobody, and a failed flush fails exactly the callers it held."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from invocations.group_commit import FlushFailed, GroupCommit


def submit_all(group: GroupCommit[int], items: Sequence[int]) -> dict[int, BaseException | None]:
    outcome: dict[int, BaseException | None] = {}

    def one(item: int) -> None:
        try:
            group.submit(item)
            outcome[item] = None
        except FlushFailed as exc:
            outcome[item] = exc

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return outcome


def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_lone_caller_flushes_its_own_item_at_once() -> None:
    flushed: list[list[int]] = []
    group = GroupCommit(lambda items: flushed.append(list(items)))
    group.submit(7)
    assert flushed == [[7]]
    assert (group.batches, group.items) == (1, 1)


def pile_up_behind_a_flush(max_batch: int) -> tuple[GroupCommit[int], list[list[int]]]:
    """Item 0's flush is held open while items 1–5 arrive; then everything is let through."""
    flushed: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def flush(items: Sequence[int]) -> None:
        if not flushed:
            first_started.set()
            release.wait(5)
        flushed.append(list(items))

    group = GroupCommit(flush, max_batch=max_batch)
    leader = threading.Thread(target=group.submit, args=(0,))
    leader.start()
    first_started.wait(5)
    others = threading.Thread(target=submit_all, args=(group, range(1, 6)))
    others.start()
    wait_until(lambda: len(group._queue) == 5)  # all five are waiting behind the running flush
    release.set()
    leader.join(5)
    others.join(5)
    return group, flushed


def test_callers_arriving_during_a_flush_share_the_next_one() -> None:
    group, flushed = pile_up_behind_a_flush(max_batch=64)
    assert flushed[0] == [0]
    assert sorted(flushed[1]) == [1, 2, 3, 4, 5]
    assert (group.batches, group.items) == (2, 6)


def test_max_batch_splits_what_piled_up() -> None:
    _, flushed = pile_up_behind_a_flush(max_batch=2)
    assert [len(batch) for batch in flushed] == [1, 2, 2, 1]
    assert sorted(sum(flushed, [])) == [0, 1, 2, 3, 4, 5]


def test_a_failed_flush_fails_every_caller_of_that_batch_and_only_them() -> None:
    first_started, release = threading.Event(), threading.Event()
    calls: list[list[int]] = []

    def flush(items: Sequence[int]) -> None:
        calls.append(list(items))
        if len(calls) == 1:
            first_started.set()
            release.wait(5)
        elif len(calls) == 2:
            raise OSError("disk full")

    group = GroupCommit(flush)
    leader = threading.Thread(target=group.submit, args=(0,))
    leader.start()
    first_started.wait(5)
    outcome: dict[int, BaseException | None] = {}
    others = threading.Thread(target=lambda: outcome.update(submit_all(group, range(1, 4))))
    others.start()
    wait_until(lambda: len(group._queue) == 3)
    release.set()
    leader.join(5)
    others.join(5)
    assert set(outcome) == {1, 2, 3}
    for error in outcome.values():
        assert isinstance(error, FlushFailed)
        assert isinstance(error.__cause__, OSError)
        assert "disk full" in str(error)
    group.submit(9)  # the next batch is written again
    assert calls[-1] == [9]


def test_the_callers_own_error_reaches_a_lone_caller() -> None:
    def flush(items: Sequence[int]) -> None:
        raise ValueError("no")

    group = GroupCommit(flush)
    with pytest.raises(FlushFailed) as caught:
        group.submit(1)
    assert isinstance(caught.value.__cause__, ValueError)
    assert not group._flushing


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError):
        GroupCommit(lambda items: None, max_batch=0)


def test_with_two_flush_slots_a_caller_whose_item_is_taken_waits_instead_of_leading() -> None:
    releases: list[threading.Event] = []
    batches: list[list[int]] = []
    lock = threading.Lock()

    def flush(items: Sequence[int]) -> None:
        release = threading.Event()
        with lock:
            batches.append(list(items))
            releases.append(release)
        release.wait(5)

    group = GroupCommit(flush, concurrent_flushes=2)
    first = threading.Thread(target=group.submit, args=(1,))
    first.start()
    wait_until(lambda: len(batches) == 1)
    second = threading.Thread(target=group.submit, args=(2,))
    second.start()
    wait_until(lambda: len(batches) == 2)  # two flushes at once: both slots busy
    rest = threading.Thread(target=submit_all, args=(group, [3, 4]))
    rest.start()
    wait_until(lambda: len(group._queue) == 2)
    releases[1].set()  # the second flush ends: one caller leads [3, 4], the other's item is taken
    wait_until(lambda: len(batches) == 3)
    releases[0].set()  # a slot frees while 3 and 4 are still being flushed
    time.sleep(0.05)
    assert len(batches) == 3, batches  # nobody led an empty batch
    releases[2].set()
    for thread in (first, second, rest):
        thread.join(5)
    assert sorted(batches[2]) == [3, 4]
    assert (group.batches, group.items) == (3, 4)
