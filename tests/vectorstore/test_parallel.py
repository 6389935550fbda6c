"""kernel_threads: a per-thread cap on numba's threads, restored afterwards."""

import threading

import numba
import pytest

from vectorstore.parallel import kernel_threads


def test_caps_and_restores():
    before = numba.get_num_threads()
    with kernel_threads(1) as threads:
        assert numba.get_num_threads() == 1 and threads == 1
    with kernel_threads(0) as threads:
        assert numba.get_num_threads() == 1 and threads == 1
    assert numba.get_num_threads() == before


def test_never_raises_the_count_and_restores_on_error():
    before = numba.get_num_threads()
    with pytest.raises(RuntimeError), kernel_threads(before + 5) as threads:
        assert numba.get_num_threads() == before and threads == before
        raise RuntimeError("boom")
    assert numba.get_num_threads() == before


def test_other_threads_keep_their_count():
    before = numba.get_num_threads()
    seen = []
    with kernel_threads(1):
        worker = threading.Thread(target=lambda: seen.append(numba.get_num_threads()))
        worker.start()
        worker.join()
    assert seen == [before]
