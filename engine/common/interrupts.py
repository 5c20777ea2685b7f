"""Ctrl-C and SIGTERM: a clean stop with its own exit code (130, 143), never a traceback.

`handle_interrupts()` makes SIGINT and SIGTERM raise `Interrupted` in the main thread, also when
the process was started with SIGINT ignored (a job started in the background from a script):
the stack unwinds, `with` blocks remove their temporary files and stop their worker processes,
and the CLI prints one line and exits 128 + the signal number. A second signal while that
cleanup runs is ignored, so the cleanup finishes.

Worker processes leave interrupts to their parent: they ignore SIGINT and SIGTERM (a Ctrl-C or a
`kill -TERM -PGID` reaches the whole process group; the parent decides, and kills its workers
outright, which `frontends.workers` makes safe: a worker shares no pipe or lock with the others).
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


def in_worker() -> None:
    """A worker process: ignore SIGINT and SIGTERM (its parent stops it); then let signals in."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for a block that must not be left half done: while worker processes
    are created, as a child inherits the mask and none can be interrupted before `in_worker` ran in
    it; for a durable_rules session, from its first call to its deletion; and while pydantic builds
    a validator (an exception raised inside that build comes out as a `SchemaError`, not as itself).
    A signal that arrives meanwhile is delivered when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class HeldBuild:
    """Base of a pydantic model whose validator is deferred (`defer_build=True`): `model_validate`
    builds it first, with the signals held (`build_validator`), wherever the model is validated,
    nested inside another model's validation included."""

    @classmethod
    def model_validate(cls, *args, **kwargs):  # noqa: D102 - pydantic's, unchanged
        build_validator(cls)
        return super().model_validate(*args, **kwargs)


def build_validator(model: type) -> None:
    """Build a pydantic model's deferred validator now, if it is not built yet, with SIGINT and SIGTERM
    held: an interrupt raised inside pydantic-core's build would come out as a `SchemaError` and a
    traceback instead of a clean stop."""
    if not model.__pydantic_complete__:
        with held():
            model.model_rebuild()
