"""The forward pass's own threads: independent pieces of work (a convolution's im2col tiles)
shared out between as many Python threads as BLAS has, each BLAS call single-threaded
meanwhile.

Why: a multi-threaded BLAS call splits its work evenly and waits for its slowest thread, so
on a machine whose cores other processes use too, every call waits for a thread the system
has descheduled (docs/performance.md: a conv layer 2-5x slower under load). Tiles taken from
one queue go to whichever thread runs; NumPy releases the GIL in matmul and in copies, so
the threads work at once. Without threadpoolctl (optional) the pieces run in turn on the
calling thread and BLAS keeps its own threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

_state: dict = {}


def _blas():
    """(threadpoolctl's handle on the BLAS libraries, their thread count), or (None, 1)."""
    if "blas" not in _state:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _state["blas"] = (None, 1)
        else:
            blas = ThreadpoolController().select(user_api="blas")
            threads = max((lib.num_threads for lib in blas.lib_controllers), default=1)
            _state["blas"] = (blas if threads > 1 else None, threads)
    return _state["blas"]


def threads() -> int:
    """How many threads share the pieces: BLAS's own count (OPENBLAS_NUM_THREADS and the
    like still decide it)."""
    return _blas()[1]


def run_all(work, pieces) -> None:
    """work(piece) for every piece (a sequence), each written to its own part of the output."""
    blas, count = _blas()
    if blas is None or len(pieces) < 2:
        for piece in pieces:
            work(piece)
        return
    if "executor" not in _state:
        _state["executor"] = ThreadPoolExecutor(count, thread_name_prefix="cnncalc")
    with blas.limit(limits=1):
        for future in [_state["executor"].submit(work, piece) for piece in pieces]:
            future.result()  # in order; an exception in a piece is raised here
