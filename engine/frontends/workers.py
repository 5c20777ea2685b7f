"""Worker processes for a batch: items out in chunks, results back in order, stoppable at any moment.

Why not `multiprocessing.Pool`: its workers share one task pipe and one result pipe, each guarded
by a lock between processes, and three threads of the parent move data through them. A worker
stopped by a signal halfway through sending a result leaves half a message in the shared pipe,
and `Pool.terminate()` then waits forever for the rest (seen in CI: `kill -TERM -PGID` hung a
batch); one killed while it holds the task pipe's lock leaves the parent waiting for that lock.

Here nothing is shared. Each worker has its own two pipes (tasks in, results out), the parent
drives them from its one thread, and stopping means killing the workers outright and dropping
their pipes: nothing half-sent can be waited for, so an interrupt always stops the batch at once.
A worker that dies on its own (the out-of-memory killer, a signal sent to it alone) is reported as
`WorkerLost`, naming the case it was on, instead of being waited for without end.

Order: chunks are numbered as they are handed out and their results yielded in that order, so
the output is the same whatever the number of workers. Flow control: each worker holds at most
`AHEAD` chunks (one running, the rest queued so it never waits for the parent), and at most
`window` chunks are out whose results the caller has not taken, so a slow caller holds the
workers back rather than letting results pile up in memory. A worker moves its task pipe into a
local queue on a thread of its own, so the parent's sends never wait on a worker that is itself
waiting to send a result.

Signals: workers ignore SIGINT and SIGTERM (`interrupts.in_worker`): the parent decides, and
kills them. A worker whose parent dies meets the end of its task pipe and leaves.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import traceback
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

from ..common.errors import WorkerLost
from ..common.interrupts import held, in_worker

AHEAD = 3  # chunks a worker holds: the one it runs and two queued


class RemoteTraceback(Exception):
    """Where in a worker an exception was raised (the cause of the one re-raised in the parent)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


@dataclass
class _Handle:
    process: Any  # multiprocessing.Process
    tasks: Connection  # parent → worker
    results: Connection  # worker → parent
    out: list[tuple[int, Any]] = field(default_factory=list)  # (number, first item) of chunks handed to it:
    # a worker runs its chunks in the order it got them, so the next result it sends is out[0]'s


def _receive(tasks: Connection, inbox: queue.SimpleQueue) -> None:
    """Move tasks from the pipe to the worker's queue as they come; None at the pipe's end."""
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            task = None
        inbox.put(task)
        if task is None:
            return


def _serve(tasks: Connection, results: Connection, strays: list[Connection], function: Callable,
           initializer: Callable, initargs: tuple) -> None:
    """A worker's life: set up, then run chunks until the parent sends None or goes away."""
    in_worker()
    for inherited in strays:  # the parent's ends of this worker's pipes and of earlier workers'
        inherited.close()  # (held here, they would keep a pipe open after the parent died)
    initializer(*initargs)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_receive, args=(tasks, inbox), daemon=True).start()
    while (task := inbox.get()) is not None:
        number, items = task
        try:
            reply = (number, [function(item) for item in items], None)
        except Exception as error:  # a bug in `function`: re-raised in the parent, with where it was
            reply = (number, None, (error, traceback.format_exc()))
        try:
            results.send(reply)
        except Exception as error:  # the error itself does not pickle: send its text
            results.send((number, None, (RuntimeError(repr(error)), traceback.format_exc())))


def ordered_map(function: Callable, items: Iterable, jobs: int, *, chunksize: int, window: int,
                initializer: Callable, initargs: tuple = ()) -> Iterator:
    """`function(item)` for each of `items`, in order, computed in `jobs` worker processes, each set
    up once by `initializer(*initargs)`. At most `window` chunks of `chunksize` items are out whose
    results the caller has not taken. Closing the iterator early, an exception or an interrupt
    kills the workers; a worker that dies on its own raises `WorkerLost`."""
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    forked = context.get_start_method() == "fork"
    handles: list[_Handle] = []
    source = iter(items)
    chunks = iter(lambda: list(islice(source, chunksize)), [])  # lists of `chunksize` items, the last shorter
    finished = False
    try:
        with held():  # no worker can be interrupted before it has set its own signal handling
            for _ in range(jobs):
                task_reader, task_writer = context.Pipe(duplex=False)
                result_reader, result_writer = context.Pipe(duplex=False)
                strays = [end for h in handles for end in (h.tasks, h.results)] + [task_writer, result_reader]
                process = context.Process(target=_serve, daemon=True, name=f"check-listing worker {len(handles) + 1}",
                                          args=(task_reader, result_writer, strays if forked else [],
                                                function, initializer, initargs))
                process.start()
                task_reader.close()  # the worker's ends: a later fork must not inherit them
                result_writer.close()
                handles.append(_Handle(process, task_writer, result_reader))
        yield from _drive(handles, chunks, window)
        for handle in handles:  # every result is in: each worker leaves when told
            with contextlib.suppress(OSError):  # (one that died meanwhile owed nothing)
                handle.tasks.send(None)
        for handle in handles:
            handle.process.join()
        finished = True
    finally:
        if not finished:
            for handle in handles:
                if handle.process.exitcode is None:
                    handle.process.kill()  # SIGKILL: a worker ignores the other two
            for handle in handles:
                handle.process.join()
        for handle in handles:
            handle.tasks.close()
            handle.results.close()


def _drive(handles: list[_Handle], chunks: Iterator[list], window: int) -> Iterator:
    """Hand chunks out and yield their results in order (the parent's loop of `ordered_map`)."""
    done: dict[int, list] = {}
    of_connection = {handle.results: handle for handle in handles}
    handed = taken = 0  # chunks handed out; chunks whose results the caller has had
    exhausted = False
    while True:
        while not exhausted and handed - taken < window:
            handle = min(handles, key=lambda h: len(h.out))
            if len(handle.out) >= AHEAD:
                break
            chunk = next(chunks, None)
            if chunk is None:
                exhausted = True
                break
            handle.out.append((handed, chunk[0]))
            try:
                handle.tasks.send((handed, chunk))
            except OSError:  # its end of the pipe is closed: the worker died while it had nothing to do
                raise _lost(handle) from None
            handed += 1
        while taken in done:
            yield from done.pop(taken)
            taken += 1
        if exhausted and taken == handed:
            return
        if taken < handed:  # the next chunk in order is still out: wait for any result
            for connection in wait([h.results for h in handles if h.out]):
                handle = of_connection[connection]
                number, results, error = _result_of(handle)
                if error is not None:
                    raise error[0] from RemoteTraceback(error[1])
                done[number] = results
                handle.out.pop(0)


def _result_of(handle: _Handle) -> tuple[int, list | None, tuple | None]:
    try:
        return handle.results.recv()
    except (EOFError, OSError):  # the pipe ended, maybe halfway through a result
        raise _lost(handle) from None


def _lost(handle: _Handle) -> WorkerLost:
    """The error for a worker that died, naming how and the first case of the oldest chunk it held."""
    handle.process.join(5)
    code = handle.process.exitcode
    how = (f"killed by {_signal_name(-code)}" if code is not None and code < 0
           else f"exit code {code}" if code is not None else "its pipe closed")
    return WorkerLost(f"worker process {handle.process.pid} stopped ({how}) while evaluating {handle.out[0][1]}")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # a real-time signal
        return f"signal {signum}"
