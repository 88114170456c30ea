"""nnex's helper threads (runtime/helper_threads.py): every part runs once, errors come back to
the caller, a busy pool runs parts inline, and a helper is kept off the caller's CPU."""

from __future__ import annotations

import os
import threading

import pytest

from nnex.runtime import helper_threads


def test_every_part_runs_once_and_the_first_on_the_caller():
    seen = []
    lock = threading.Lock()

    def part(i):
        with lock:
            seen.append((i, threading.get_ident()))

    helper_threads.run_parts(part, [(i,) for i in range(4)])
    assert sorted(i for i, _ in seen) == [0, 1, 2, 3]
    assert dict(seen)[0] == threading.get_ident()
    assert all(tid != threading.get_ident() for i, tid in seen if i)


def test_an_error_in_a_helper_reaches_the_caller_and_the_pool_stays_usable():
    def part(i):
        if i == 1:
            raise ValueError("part 1 failed")

    with pytest.raises(ValueError, match="part 1 failed"):
        helper_threads.run_parts(part, [(0,), (1,)])
    done = []
    helper_threads.run_parts(lambda i: done.append(i), [(0,), (1,)])
    assert sorted(done) == [0, 1]


def test_parts_run_inline_while_another_caller_has_the_helpers():
    assert helper_threads._busy.acquire(blocking=False)
    try:
        where = []
        helper_threads.run_parts(lambda i: where.append(threading.get_ident()), [(0,), (1,)])
        assert where == [threading.get_ident()] * 2
    finally:
        helper_threads._busy.release()


@pytest.mark.skipif(helper_threads._current_cpu is None, reason="no sched_getcpu here")
def test_a_helper_is_kept_off_the_callers_cpu():
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs two CPUs")
    here = []
    helper_threads.run_parts(lambda i: here.append(helper_threads._current_cpu()) if i == 0 else None,
                             [(0,), (1,)])
    helper = helper_threads._helpers[0]
    cpus = os.sched_getaffinity(helper.tid)
    # the caller may have moved between the placement and its part: check against the set given
    assert cpus == helper.cpus and cpus and cpus < allowed and len(cpus) == len(allowed) - 1
