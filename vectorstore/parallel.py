"""How many threads the numba parallel kernels called from this thread may use, and
BLAS calls that stay on their calling thread for code that splits work itself."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import numba
from threadpoolctl import ThreadpoolController

_BLAS_LOCK = threading.Lock()


@contextmanager
def kernel_threads(n: int) -> Iterator[int]:
    """Run the parallel kernels called inside on at most `n` threads (at least one, and
    never more than before); gives that count, the number of chunks to split work into.

    A kernel call with a single chunk of work (one query, one scan block) then stays on
    the calling thread: the OpenMP team is not woken, so its idle workers do not spin on
    the other cores after every single-query search: a server answering single searches
    back to back otherwise kept a second core busy spinning. The limit is numba's
    per-thread one, so other threads' kernels are unaffected.
    """
    before = numba.get_num_threads()
    threads = max(1, min(n, before))
    if threads == before:  # nothing to change: skip numba's two checked calls
        yield threads
        return
    numba.set_num_threads(threads)
    try:
        yield threads
    finally:
        numba.set_num_threads(before)


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController().select(user_api="blas")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run numpy's BLAS calls made inside on their calling thread only.

    For code that splits work over its own threads, each calling BLAS on its share (the
    flat batch search): BLAS's own thread pool would otherwise wake and spin beside
    those threads (two pools on the same cores), which measured slower than either
    alone. The limit is process-wide, so blocks hold a lock and never interleave their
    save and restore; other threads' BLAS calls meanwhile run on one thread each
    (slower, still correct).
    """
    with _BLAS_LOCK, _blas().limit(limits=1):
        yield
