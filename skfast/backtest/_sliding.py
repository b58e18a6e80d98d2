"""The M3 orchestration with the O(1) sliding WMA instead of the O(p) one.

Each WMA keeps a running plain sum and a running weighted sum, so its cost
per bar no longer grows with the window; the sums are re-anchored every
block (see ``_numba.wma_sliding``) so round-off stays small; the tie rule
(``_exact``) settles the bars it could still decide.
"""

from functools import partial

from . import _numba, _numba_parallel
from ._grid import engine_entry

__all__ = ["sweep", "features"]


@engine_entry
def sweep(close, lengths, fee):
    return _numba_parallel.sweep_tasks(close, lengths, fee, sliding=True)


features = partial(_numba.features, sliding=True)
