"""The batch's worker processes (`frontends.workers`): results in order, errors and lost workers
reported, and a batch stopped at any moment, whatever its workers are doing, without waiting."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.common.errors import WorkerLost
from engine.frontends.workers import RemoteTraceback, ordered_map

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def _nothing() -> None:
    pass


def _square(n: int) -> int:
    return n * n


def _pid_of(_n: int) -> int:
    return os.getpid()


def _map(function, items, jobs=2, chunksize=3, window=4):
    return ordered_map(function, items, jobs, chunksize=chunksize, window=window, initializer=_nothing)


def _python(program: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("jobs, chunksize, window", [(1, 1, 1), (2, 3, 4), (3, 7, 2), (4, 50, 8)])
def test_results_come_back_in_order_whatever_the_workers_and_chunks(jobs, chunksize, window):
    items = list(range(101))
    assert list(_map(_square, items, jobs, chunksize, window)) == [n * n for n in items]


def test_no_items_no_results():
    assert list(_map(_square, [])) == []


def test_the_work_is_shared_between_the_workers():
    assert len(set(_map(_pid_of, range(200), jobs=2, chunksize=1))) == 2


def _setup(marker: str) -> None:
    global MARKER
    MARKER = marker


MARKER = "parent"


def _marker(_n: int) -> str:
    return MARKER


def test_each_worker_is_set_up_once_by_the_initializer():
    rows = ordered_map(_marker, range(20), 2, chunksize=2, window=4, initializer=_setup, initargs=("set up",))
    assert list(rows) == ["set up"] * 20
    assert MARKER == "parent"  # in the workers, not here


def _fail_on_five(n: int) -> int:
    if n == 5:
        raise ValueError(f"no {n}")
    return n


def test_an_exception_in_a_worker_is_raised_in_the_parent_with_where_it_was():
    with pytest.raises(ValueError, match="no 5") as raised:
        list(_map(_fail_on_five, range(20)))
    assert isinstance(raised.value.__cause__, RemoteTraceback)
    assert "_fail_on_five" in str(raised.value.__cause__)


def _die_on_seven(n: int) -> int:
    if n == 7:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
    return n


def test_a_worker_that_dies_on_its_own_is_reported_with_its_case_not_waited_for():
    with pytest.raises(WorkerLost, match=r"killed by SIGKILL\) while evaluating 7"):
        list(_map(_die_on_seven, range(20), chunksize=1))


def _second_dies(*_args) -> None:
    if multiprocessing.current_process().name.endswith(" 2"):
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_that_dies_while_it_is_set_up_is_reported_with_the_case_it_was_given():
    rows = ordered_map(_square, range(20), 2, chunksize=1, window=4, initializer=_second_dies)
    with pytest.raises(WorkerLost, match=r"killed by SIGKILL\) while evaluating 1$"):
        list(rows)


def test_a_worker_that_dies_with_nothing_to_do_costs_the_batch_nothing():
    rows = _map(_pid_of, range(50), chunksize=1, window=1)  # one chunk out at a time: always to the first
    busy = next(rows)
    [idle] = [child for child in multiprocessing.active_children() if child.pid != busy]
    os.kill(idle.pid, signal.SIGKILL)
    idle.join(10)
    assert [busy] + list(rows) == [busy] * 50


def test_workers_ignore_sigint_and_sigterm_the_parent_decides():
    rows = _map(_pid_of, range(400), chunksize=1)
    first = [next(rows) for _ in range(4)]
    for pid in set(first):
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGINT)
    assert len(first + list(rows)) == 400


def test_closing_early_kills_the_workers_at_once():
    rows = _map(_pid_of, range(10_000), chunksize=1)
    pids = {next(rows) for _ in range(50)}
    started = time.monotonic()
    rows.close()
    assert time.monotonic() - started < 5
    assert pids and not any(_alive(pid) for pid in pids)


BIG = 4 * 1024 * 1024  # far more than a pipe holds: a worker sending it is blocked until the parent reads


def _big(n: int) -> bytes:
    return bytes([n % 256]) * BIG


def test_a_batch_stops_at_once_while_its_workers_are_halfway_through_sending():
    """The hang seen with multiprocessing.Pool: a worker stopped mid-send left half a result in a
    shared pipe and terminate() waited for the rest. Here the workers are blocked sending 4 MB each
    while the caller holds back; stopping kills them and drops their pipes."""
    rows = _map(_big, range(40), chunksize=1, window=8)
    assert next(rows) == _big(0)
    time.sleep(0.5)  # every worker is now stuck in the middle of sending its next result
    started = time.monotonic()
    rows.close()
    assert time.monotonic() - started < 5


def test_large_tasks_and_results_both_ways_do_not_deadlock():
    """The parent sends large tasks while the workers are blocked sending large results it has not
    read yet: a worker drains its task pipe on a thread, so neither side waits on the other."""
    probe = ("import faulthandler, time\nfaulthandler.dump_traceback_later(60, exit=True)\n"
             "from engine.frontends.workers import ordered_map\n"
             "def echo(b):\n    return b\n"
             "def nothing():\n    pass\n"
             "items = [bytes([i]) * (1024 * 1024) for i in range(24)]\n"
             "got = []\n"
             "for row in ordered_map(echo, items, 2, chunksize=2, window=6, initializer=nothing):\n"
             "    time.sleep(0.02)\n    got.append(row)\n"
             "print('ok', got == items)\n")
    done = _python(probe)
    assert done.returncode == 0 and done.stdout.split() == ["ok", "True"], done.stderr


def test_workers_leave_when_their_parent_dies():
    probe = ("import os, sys, time\n"
             "from engine.frontends.workers import ordered_map\n"
             "def pid(n):\n    time.sleep(0.05)\n    return os.getpid()\n"
             "def nothing():\n    pass\n"
             "rows = ordered_map(pid, range(100000), 2, chunksize=1, window=4, initializer=nothing)\n"
             "print(*{next(rows) for _ in range(10)}, flush=True)\n"
             "os.kill(os.getpid(), 9)\n")
    done = _python(probe)
    assert done.returncode == -signal.SIGKILL, done.stderr
    workers = [int(pid) for pid in done.stdout.split()]
    assert len(workers) == 2
    for _ in range(100):  # each finishes the case it is on, meets the end of its task pipe and leaves
        if not any(_alive(pid) for pid in workers):
            break
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
