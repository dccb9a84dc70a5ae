"""One way to run work in parallel: a bounded submit loop over any `concurrent.futures.Executor`.

Every parallel stage (corpus readers, the gap scan, features, synthetic corpora) takes an optional
executor: the build's process pool, a Dask `Client.get_executor()`, or a `ThreadPoolExecutor` in a
test. Without one, `executor_or_pool` owns a local process pool for the duration of the work.
`parallel_map` keeps at most a few tasks in flight per worker, so memory stays flat however many
items there are, and names the item whose worker died instead of a bare `BrokenProcessPool`.

Local pools start workers from a fork server (a parent that holds torch threads must not fork)
and pin BLAS/OpenMP to one thread per worker: N workers x N BLAS threads on N cores run several
times slower than N single-threaded workers.

A local pool stops at once when the work is interrupted (Ctrl-C, SIGTERM: `core.interrupt`):
`LocalPool.stop` cancels what has not started, tells each worker to stop (it unwinds its task, so
its ffmpeg is killed and its temporaries removed, and exits) and kills any worker still there after
`STOP_GRACE_S`. Waiting for the running tasks instead, as `ProcessPoolExecutor`'s own exit does,
kept an interrupted build alive for as long as its longest task, or for ever where a worker had
lost its ffmpeg's pipe.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from edu_affect_data.core.interrupt import (
    WorkerStopped,
    checkpoint,
    requested,
    stop_worker_on_signals,
)
from edu_affect_data.core.progress import track

T = TypeVar("T")
R = TypeVar("R")

#: Tasks kept in flight per worker: enough to hide scheduling latency, few enough for flat memory.
IN_FLIGHT_PER_WORKER = 2
#: Seconds a stopped pool gives its workers to unwind (kill their ffmpeg, remove their temporaries)
#: before it kills them: unwinding takes milliseconds unless a worker is inside a long native call.
STOP_GRACE_S = 2.0
#: Seconds the main thread waits for a task before it looks for a stop signal (`core.interrupt.checkpoint`).
WAIT_SLICE_S = 0.1
#: Environment variables that cap native thread pools (numpy's BLAS, OpenMP, numba).
THREAD_LIMIT_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


class WorkerLost(RuntimeError):
    """A worker process died (killed, out of memory) while running the named item."""


def default_workers(requested: int | None = None) -> int:
    """`requested`, else every core this process may use."""
    if requested:
        return requested
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pin_worker_threads() -> None:
    """One native thread per worker (set before numpy/librosa are imported)."""
    for name in THREAD_LIMIT_VARIABLES:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
        return
    threadpool_limits(1)


def start_worker() -> None:
    """Pool initializer: single-threaded native libraries, and SIGINT/SIGTERM that stop the worker."""
    pin_worker_threads()
    stop_worker_on_signals()


def _run_in_worker(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """A task of a `LocalPool`: `fn(*args, **kwargs)`, and the worker's end when it is told to stop.

    The task has unwound when `WorkerStopped` reaches here (its `finally` blocks ran); returning it
    as the task's exception would let the worker take the next queued task, so it exits instead.
    """
    try:
        return fn(*args, **kwargs)
    except WorkerStopped as stopped:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + stopped.signum)


class LocalPool(cf.ProcessPoolExecutor):
    """A process pool from a fork server, one native thread per worker, that stops at once when interrupted.

    Leaving its `with` block normally waits for the submitted work, as any executor does; leaving it
    with an exception cancels what has not started; leaving it interrupted (`KeyboardInterrupt`,
    `core.interrupt.Interrupted`, `SystemExit`) `stop`s it.
    """

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(
            max_workers=default_workers(workers),
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=start_worker,
        )

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> cf.Future[R]:
        return super().submit(_run_in_worker, fn, *args, **kwargs)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Cancel what has not started, SIGTERM every worker, SIGKILL those still alive after `grace_s`."""
        processes = list((self._processes or {}).values())
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + grace_s
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()  # its ffmpeg, if any, dies on its next write to the closed pipe
                process.join()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is not None and (not issubclass(exc_type, Exception) or requested() is not None):
            self.stop()  # interrupted, or failed because a signal reached the workers first
            return
        try:
            self.shutdown(wait=True, cancel_futures=exc_type is not None)
        except BaseException:
            self.stop()  # interrupted while waiting for the last tasks
            raise


def local_pool(workers: int | None = None) -> LocalPool:
    """A `LocalPool` of `workers` processes (default: every core this process may use)."""
    return LocalPool(workers)


@contextmanager
def executor_or_pool(executor: cf.Executor | None, workers: int | None = None) -> Iterator[cf.Executor]:
    """The caller's executor (left running), or a `LocalPool` owned for the `with` block."""
    if executor is not None:
        yield executor
        return
    with local_pool(workers) as pool:
        yield pool


def executor_workers(executor: cf.Executor) -> int:
    """How many tasks the executor runs at once: a pool's workers, a Dask cluster's threads, else this machine's cores.

    A Dask `ClientExecutor` says nothing itself; its client knows the threads of every worker the
    scheduler has now. Counting this machine's cores instead would keep a cluster of many worker
    machines at twice the building machine's core count of tasks in flight.
    """
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return workers
    client = getattr(executor, "_client", None)  # distributed.cfexecutor.ClientExecutor
    if client is not None:
        threads = sum(client.nthreads().values())
        if threads > 0:
            return int(threads)
    return default_workers()


def result_of(future: cf.Future[R]) -> R:
    """`future.result()`, waited for in slices with a safe point between them (`core.interrupt.checkpoint`).

    A stop signal is then raised in the main thread while it waits, not after the task has ended,
    nor inside whatever code the main thread would run next.
    """
    while not cf.wait([future], timeout=WAIT_SLICE_S).done:
        checkpoint()
    checkpoint()
    return future.result()


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    executor: cf.Executor | None = None,
    workers: int | None = None,
    ordered: bool = True,
    describe: Callable[[T], str] = str,
    in_flight: int | None = None,
) -> Iterator[R]:
    """`fn(item)` for every item on `executor` (or a local pool), at most a few in flight.

    Results come in input order when `ordered`, else as they finish. An exception raised by `fn`
    propagates unchanged when its item's turn comes (after cancelling what has not started); a
    dead worker becomes `WorkerLost` naming the item with `describe`. `in_flight` caps the
    submitted-but-unread tasks (default `IN_FLIGHT_PER_WORKER` per worker): a caller whose results
    are large (decoded frames waiting for a model) keeps fewer of them.
    """
    with executor_or_pool(executor, workers) as pool:
        limit = max(1, in_flight if in_flight is not None else executor_workers(pool) * IN_FLIGHT_PER_WORKER)
        pending = iter(items)
        running: deque[tuple[cf.Future[R], T]] = deque()

        def fill() -> None:
            while len(running) < limit:
                item = next(pending, _END)
                if item is _END:
                    return
                running.append((pool.submit(fn, item), item))  # type: ignore[arg-type]

        def result(future: cf.Future[R], item: T) -> R:
            try:
                return result_of(future)
            except BrokenProcessPool as exc:
                raise WorkerLost(f"{describe(item)}: a worker process died ({exc})") from exc
            except BaseException:
                for other, _ in running:
                    other.cancel()
                raise

        try:
            fill()
            while running:
                if ordered:
                    future, item = running.popleft()
                else:
                    done: set[cf.Future[R]] = set()
                    while not done:
                        done, _ = cf.wait([f for f, _ in running], timeout=WAIT_SLICE_S, return_when=cf.FIRST_COMPLETED)
                        checkpoint()
                    index = next(i for i, (f, _) in enumerate(running) if f in done)
                    future, item = running[index]
                    del running[index]
                value = result(future, item)
                fill()
                yield value
        finally:  # the reader stopped early (an error, an interruption, a `break`): nothing more starts
            for other, _ in running:
                other.cancel()


def map_all(
    fn: Callable[[T], R],
    items: Iterable[T],
    executor: cf.Executor | None,
    *,
    describe: Callable[[T], str] = str,
    progress: tuple[str, str] | None = None,
) -> list[R]:
    """Every `fn(item)` in item order: serially without an executor, else through `parallel_map`.

    Serial on purpose when no executor is given: a library function called on its own (a reader
    in a notebook, a test) should not start a pool; the build passes the one it owns.
    `progress`: (what, unit) to count the results for the log (`core.progress.track`).
    """
    work = list(items)
    results: Iterable[R] = (
        (fn(item) for item in work) if executor is None else parallel_map(fn, work, executor=executor, describe=describe)
    )
    if progress is not None:
        results = track(results, len(work), *progress)
    return list(results)


_END = object()
