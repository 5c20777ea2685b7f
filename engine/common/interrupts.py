"""Ctrl-C and SIGTERM: a clean stop with its own exit code (130, 143), never a traceback.

`handle_interrupts()` makes SIGINT and SIGTERM raise `Interrupted` in the main thread, also when
the process was started with SIGINT ignored (a job started in the background from a script):
the stack unwinds, `with` blocks remove their temporary files and stop their worker processes,
and the CLI prints one line and exits 128 + the signal number. A second signal while that
cleanup runs is ignored, so the cleanup finishes.

Worker processes leave interrupts to their parent: they ignore SIGINT (a Ctrl-C reaches the whole
process group; the parent decides) and leave quietly on SIGTERM (how the parent stops them) by
unwinding, not by dying where they stand: a worker killed while it waits for work would keep the
task queue's lock forever, and the parent stopping the pool would wait for that lock forever.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class Interrupted(BaseException):
    """The run was stopped by a signal. A BaseException, like KeyboardInterrupt: no `except
    Exception` on the way swallows it, and click does not turn it into its own exit code 1."""

    def __init__(self, signum: int):
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return NAMES.get(self.signum, f"signal {self.signum}")


_stopping = False


def _raise(signum: int, frame: object) -> None:
    global _stopping
    if _stopping:
        return  # already unwinding: let the cleanup finish
    _stopping = True
    raise Interrupted(signum)


def handle_interrupts() -> None:
    """From now on SIGINT and SIGTERM raise `Interrupted` in this (main) thread."""
    global _stopping
    _stopping = False
    for signum in SIGNALS:
        signal.signal(signum, _raise)


def _leave(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough
    raise SystemExit(0)  # unwinds (releasing the locks it holds); multiprocessing prints nothing for it


def in_worker() -> None:
    """A worker process: ignore SIGINT, leave without a word on SIGTERM; then let signals in."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _leave)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for a block that must not be left half done: while worker processes
    (and the threads that start more of them) are created, as a child inherits the mask and none can
    be interrupted before `in_worker` ran in it; and for a durable_rules session, from its first call
    to its deletion. A signal that arrives meanwhile is delivered when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
