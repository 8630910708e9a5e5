"""Work shared between this process and helper processes, results given back in task order.

A large DECP file is read in independent tasks (the parts of a consolidated table, the batches
of a JSON file). :func:`in_order` runs them on every free core: this process takes tasks from
the front, helper processes from the back, and the results come back in task order, so that
the reading gives the same tables and quarantine as a reading in one process.

Helpers are forked from this process when the first task is handed out, so they start at once,
with the readers imported and the state the caller prepared (the file's context, its lookups of
distinct values); nothing of the caller's script is run again, as a *spawn* start would. (Arrow
makes its thread pool safe across a fork; the helpers use no other thread.) A helper that
fails, a pool that cannot start, or a result that cannot come back, is never lost: this process
runs that task itself, so an error is raised here exactly as a reading in one process raises
it.

``OBSERVATOIRE_WORKERS`` sets the number of helper processes (``0``: none, everything in this
process); by default one fewer than the cores this process may use, at most
:data:`MAX_HELPERS`.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import os
import pickle
import shutil
import signal
import struct
import sys
import tempfile
from concurrent.futures import (FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor,
                                wait)
from typing import Any, Callable, Iterator

#: Helper processes at most, whatever the cores (each holds a copy of the readers' lookups).
MAX_HELPERS = 3

def helper_count() -> int:
    """Helper processes to start: ``OBSERVATOIRE_WORKERS`` if set, else the cores this process
    may use minus one (itself), at most :data:`MAX_HELPERS`."""
    setting = os.environ.get("OBSERVATOIRE_WORKERS", "").strip()
    if setting:
        try:
            return max(0, int(setting))
        except ValueError:
            raise ValueError(f"OBSERVATOIRE_WORKERS : nombre entier attendu, lu {setting!r}")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, MAX_HELPERS))


def _context():
    """The fork context, or ``None`` where there is none or it is unsafe (macOS, whose system
    libraries do not survive a fork: helpers are then not used)."""
    if sys.platform == "darwin" or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def _quiet() -> None:
    """In a helper: Ctrl-C is for the main process, which stops the helpers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    _quiet()
    if initializer is not None:
        initializer(*initargs)


def _scratch() -> str:
    """A folder for the helpers' results: in memory (``/dev/shm``) when it has room."""
    try:
        stats = os.statvfs("/dev/shm")
        if stats.f_bavail * stats.f_frsize > 2 << 30 and os.access("/dev/shm", os.W_OK):
            return tempfile.mkdtemp(prefix="observatoire-", dir="/dev/shm")
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="observatoire-")


def _run(remote: Callable[[Any], Any], spec: Any, folder: str) -> str:
    """In a helper: run the task and leave its result in a file of ``folder``.

    A result goes through a file, not back through the pool's pipe: a pipe is emptied by a
    thread of the main process, which waits for the interpreter while the main process works,
    and the helper would wait with it. The large buffers (Arrow's, NumPy's) are written apart
    from the pickle, each on a 64-byte boundary, and read back in place (:func:`_load`)."""
    result = remote(spec)
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    views = [buffer.raw() for buffer in buffers]
    sizes = [len(head)] + [view.nbytes for view in views]
    index = struct.pack(f"<{len(sizes) + 1}q", len(sizes), *sizes)
    handle, name = tempfile.mkstemp(dir=folder, suffix=".pickle")
    with os.fdopen(handle, "wb") as out:
        at = out.write(index)
        for view in [memoryview(head), *views]:
            pad = -at % _ALIGN
            at += out.write(b"\0" * pad) + out.write(view)
    return name


_ALIGN = 64


def _load(name: str) -> Any:
    """A result left by :func:`_run`: its buffers are the file's pages, mapped, not copied (the
    file is removed at once; its pages go when the last array using them does). The mapping is
    private: an array written to later gets its own copy of the pages written, as any array."""
    try:
        with open(name, "rb") as source:
            mapped = mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_COPY)
    finally:
        os.unlink(name)
    whole = memoryview(mapped)
    (count,) = struct.unpack_from("<q", whole)
    sizes = struct.unpack_from(f"<{count}q", whole, 8)
    at, parts = 8 * (count + 1), []
    for size in sizes:
        at += -at % _ALIGN
        parts.append(whole[at:at + size])
        at += size
    return pickle.loads(parts[0], buffers=parts[1:])


def _ready() -> None:
    """A first task that makes the pool fork its helpers now."""


class Helpers:
    """Helper processes for one reading; :meth:`in_order` shares its tasks with them.

    Entering forks the helpers at once, while this process is still small (a fork copies
    nothing, but every page this process writes afterwards that the helpers share is copied):
    set up what they inherit first. With ``count`` 0, or no fork on this system, every task
    runs in this process.

    Parameters
    ----------
    count
        Helper processes to start (see :func:`helper_count`).
    initializer
        Run once in each helper after the fork.
    """

    def __init__(self, count: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple = ()):
        self.count = count if _context() is not None else 0
        self.initializer = initializer
        self.initargs = initargs
        self.pool: ProcessPoolExecutor | None = None
        self.folder: str | None = None

    def __enter__(self) -> "Helpers":
        if self.count:
            self.folder = _scratch()
            try:
                self.pool = ProcessPoolExecutor(
                    max_workers=self.count, mp_context=_context(), initializer=_start,
                    initargs=(self.initializer, self.initargs))
                self.pool.submit(_ready)
            except Exception:  # no helpers (a daemonic process, no room): all here
                self._stop(wait=False)
        return self

    def __exit__(self, *exc) -> None:
        self._stop(wait=True)

    def _stop(self, wait: bool) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=True)
            self.pool = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def in_order(self, n: int, local: Callable[[int], Any], remote: Callable[[Any], Any],
                 specs: Callable[[int], Any]) -> Iterator[tuple[int, Any]]:
        """Run tasks ``0 … n-1``; yield ``(task, result)`` in task order.

        Parameters
        ----------
        n
            Number of tasks.
        local
            ``local(k)`` runs task ``k`` in this process.
        remote
            A module-level function: ``remote(specs(k))`` runs task ``k`` in a helper and
            returns a picklable result.
        specs
            ``specs(k)``: what a helper needs to know of task ``k`` (picklable).

        Every process takes the first task not taken yet (a helper has two handed out ahead,
        so that it never waits for this process); a result is yielded as soon as every task
        before it has been, so the caller uses the helpers' results while they work on the
        next ones. When no task is left to take, this process takes back those handed out that
        no helper has started. A helper's error (or a helper lost) makes this process run the
        task itself, which raises the error as a reading in one process would.
        """
        if self.pool is None or n < 2:
            for k in range(n):
                yield k, local(k)
            return
        queued: dict[int, Future] = {}
        ready: dict[int, Any] = {}
        taken = 0   # tasks 0 … taken-1 are taken
        shown = 0   # tasks 0 … shown-1 are yielded

        def hand_out() -> None:
            nonlocal taken
            while self.pool is not None and taken < n - 1 and sum(
                    not future.done() for future in queued.values()) < 2 * self.count:
                try:
                    queued[taken] = self.pool.submit(_run, remote, specs(taken), self.folder)
                except Exception:  # the pool broke: the rest runs here
                    self.pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = None
                    return
                taken += 1

        def collect(block: bool) -> None:
            if block and queued:
                wait(list(queued.values()), return_when=FIRST_COMPLETED)
            for k in [k for k, future in queued.items() if future.done()]:
                future = queued.pop(k)
                try:
                    ready[k] = _load(future.result())
                except (Exception, CancelledError):  # the error as a reading here raises it
                    ready[k] = local(k)

        try:
            while shown < n:
                hand_out()
                collect(block=False)
                while shown in ready:
                    yield shown, ready.pop(shown)
                    shown += 1
                if shown == n:
                    break
                if taken < n:  # the next task, here
                    k, taken = taken, taken + 1
                    ready[k] = local(k)
                    continue
                stolen = next((k for k in sorted(queued) if queued[k].cancel()), None)
                if stolen is not None:  # handed out, not started: run here
                    del queued[stolen]
                    ready[stolen] = local(stolen)
                    continue
                collect(block=True)
        finally:
            for future in queued.values():  # a reading stopped midway: the results left
                future.cancel()
            if queued and self.pool is not None:
                wait(list(queued.values()))
            for future in queued.values():
                if future.done() and not future.cancelled() and future.exception() is None:
                    with contextlib.suppress(OSError):
                        os.unlink(future.result())
