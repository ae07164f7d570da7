"""Run a grid of independent tasks: in this process, in parallel processes, or on a Dask cluster.

Placebo, permutation, leave-one-out and specification grids are many independent fits. ``run_grid``
runs ``func(task)`` for every task and returns the results **in task order**, whatever the number
of workers and whichever finishes first, so that results do not depend on how they were computed
(every task carries its own seed). A progress bar (tqdm, on standard error, shown only on a
terminal unless asked) counts finished tasks.

=========================  ==================================================================
``workers=1``              in this process, one task after another
``workers=N`` (or None)    ``N`` processes (None: the machine's cores); forked on Linux, so
                           large shared inputs given as ``shared`` are inherited, not copied
``scheduler="tcp://..."``  a Dask distributed cluster at that address (``pip install
                           'evaluate[dask]'``); ``shared`` is scattered to the workers once
=========================  ==================================================================

``func`` must be importable by the workers (a module-level function). With ``shared``, it is
called as ``func(shared, task)``. Each worker runs its tasks with one BLAS thread.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from evaluate.errors import EvaluateError

__all__ = ["GridError", "default_workers", "run_grid"]

T = TypeVar("T")
R = TypeVar("R")

_CONNECT_TIMEOUT = "10s"
"""How long to wait for a Dask scheduler."""

_SHARED: Any = None
"""The ``shared`` object of the grid running in this worker process (set before forking)."""


class GridError(EvaluateError):
    """A grid could not run (bad worker count, unreachable scheduler, Dask not installed)."""


def default_workers() -> int:
    """Cores this process may use (``os.sched_getaffinity`` where available)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _call(func: Callable[..., Any], task: Any, with_shared: bool) -> Any:
    with _one_blas_thread():
        return func(_SHARED, task) if with_shared else func(task)


def _call_shared(func: Callable[..., Any], shared: Any, task: Any) -> Any:
    with _one_blas_thread():
        return func(shared, task)


def _one_blas_thread() -> Any:
    """One BLAS thread per worker: the grid already uses the cores, and OpenBLAS threads that
    compete for them slow small solves by two orders of magnitude (measured: a 600 x 600 solve
    took 1.6 s with 2 threads on a busy 2-core machine, 0.04 s with 1)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def run_grid(
    func: Callable[..., R],
    tasks: Sequence[T],
    *,
    shared: Any = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool | None = None,
    desc: str = "grid",
) -> list[R]:
    """Run ``func`` on every task and return the results in task order.

    Parameters
    ----------
    func
        A module-level function: ``func(task)``, or ``func(shared, task)`` when ``shared`` is given.
    tasks
        The tasks (picklable).
    shared
        A large input every task reads (a panel, a design): inherited by forked processes and
        scattered once to a Dask cluster instead of being sent with every task.
    workers
        Processes: 1 runs here; ``None`` uses every core.
    scheduler
        Address of a Dask distributed scheduler (e.g. ``tcp://10.0.0.5:8786``); overrides
        ``workers``.
    progress
        Show a progress bar: ``None`` only on a terminal.
    desc
        Label of the progress bar.

    Returns
    -------
    list
        ``func``'s results, in the order of ``tasks``.

    Raises
    ------
    GridError
        A bad worker count, Dask missing, or a scheduler that cannot be reached.
    Exception
        Whatever a task raised (the first failure, after the others are cancelled).
    """
    from tqdm.auto import tqdm

    tasks = list(tasks)
    with_shared = shared is not None
    bar = tqdm(total=len(tasks), desc=desc, disable=(not sys.stderr.isatty()) if progress is None else not progress,
               file=sys.stderr, leave=False)
    try:
        if scheduler:
            return _run_dask(func, tasks, shared, with_shared, scheduler, bar)
        n = default_workers() if workers is None else workers
        if not isinstance(n, int) or n < 1:
            raise GridError(f"grid: workers must be a whole number of at least 1 (or None for every core), got {workers!r}")
        n = min(n, len(tasks)) if tasks else 1
        if n == 1:
            out = []
            for task in tasks:
                out.append(func(shared, task) if with_shared else func(task))  # type: ignore[call-arg]
                bar.update(1)
            return out
        return _run_processes(func, tasks, shared, with_shared, n, bar)
    finally:
        bar.close()


def _run_processes(func: Callable[..., R], tasks: list[Any], shared: Any, with_shared: bool, n: int, bar: Any) -> list[R]:
    global _SHARED
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    if method != "fork" and with_shared:  # pragma: no cover - not Linux: send it with each task
        return _run_spawn_shared(func, tasks, shared, n, bar)
    _SHARED = shared
    results: list[Any] = [None] * len(tasks)
    try:
        with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context(method)) as pool:
            futures = {pool.submit(_call, func, task, with_shared): i for i, task in enumerate(tasks)}
            try:
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(1)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        _SHARED = None
    return results


def _run_spawn_shared(func: Callable[..., R], tasks: list[Any], shared: Any, n: int, bar: Any) -> list[R]:  # pragma: no cover
    results: list[Any] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=n) as pool:
        futures = {pool.submit(_call_shared, func, shared, task): i for i, task in enumerate(tasks)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            bar.update(1)
    return results


def _run_dask(func: Callable[..., R], tasks: list[Any], shared: Any, with_shared: bool, address: str, bar: Any) -> list[R]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise GridError(
            f"grid: a Dask scheduler is configured ({address}) but Dask is not installed; "
            "install it with: pip install 'evaluate[dask]'"
        ) from exc
    try:
        client = Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise GridError(
            f"grid: cannot reach the Dask scheduler at {address} ({exc}); check the address and that "
            "the scheduler is running, or remove it to run on this machine"
        ) from exc
    try:
        if with_shared:
            ref = client.scatter(shared, broadcast=True)
            futures = client.map(_call_shared, [func] * len(tasks), [ref] * len(tasks), tasks, pure=False)
        else:
            futures = client.map(func, tasks, pure=False)
        results: list[Any] = []
        for fut in futures:  # in task order; the bar moves as the earliest pending task finishes
            results.append(fut.result())
            bar.update(1)
        return results
    finally:
        client.close()
