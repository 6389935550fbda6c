"""How many threads the numba parallel kernels called from this thread may use."""

from collections.abc import Iterator
from contextlib import contextmanager

import numba


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
