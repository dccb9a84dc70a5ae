"""core.parallel's bounded window: never more than `in_flight` tasks submitted ahead of the reader."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from edu_affect_data.core.parallel import IN_FLIGHT_PER_WORKER, executor_workers, parallel_map


def _window_seen(workers: int, in_flight: int | None, n: int = 40) -> tuple[list[int], int]:
    """Results, and the most tasks ever started beyond the ones handed to the reader."""
    started: list[int] = []
    lock = threading.Lock()
    most = 0

    def work(item: int) -> int:
        with lock:
            started.append(item)
        return item * item

    results = []
    with ThreadPoolExecutor(workers) as pool:
        for read, value in enumerate(parallel_map(work, range(n), executor=pool, in_flight=in_flight)):
            results.append(value)
            with lock:
                most = max(most, len(started) - (read + 1))
    return results, most


@pytest.mark.parametrize(("workers", "in_flight", "window"), [(3, None, 3 * IN_FLIGHT_PER_WORKER), (3, 4, 4), (2, 1, 1)])
def test_the_window_bounds_what_is_submitted_ahead(workers: int, in_flight: int | None, window: int) -> None:
    results, most = _window_seen(workers, in_flight)
    assert results == [i * i for i in range(40)]  # in input order
    assert most <= window


def test_a_failure_is_raised_at_its_items_turn() -> None:
    def work(item: int) -> int:
        if item == 5:
            raise ValueError("item 5 is broken")
        return item

    read = []
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="item 5"):
        for value in parallel_map(work, range(20), executor=pool, in_flight=3):
            read.append(value)
    assert read == [0, 1, 2, 3, 4]


@pytest.mark.slow  # importing distributed and starting a cluster: ~3-6 s here
def test_a_dask_executor_counts_the_clusters_threads_not_this_machines_cores() -> None:
    """The window on a cluster is its workers' threads (here 3 x 2), not the building machine's cores."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=3, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(3)
        executor = client.get_executor(pure=False)
        assert executor_workers(executor) == 6
        assert list(parallel_map(abs, range(-20, 0), executor=executor)) == list(range(20, 0, -1))
    with ThreadPoolExecutor(3) as pool:
        assert executor_workers(pool) == 3
