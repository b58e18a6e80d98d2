"""The permutation stream: which relabellings a fit tests, independent of batching.

A relabelling is one row of a ``(n_rows, n_samples)`` float64 matrix holding
1.0 for the samples put in group 1 and 0.0 for the others, the same form for
every engine (``numpy`` and ``jax`` multiply it into ``X`` directly).

Random mode cuts the stream into fixed blocks of :data:`STREAM_BLOCK`
relabellings; block ``k`` is drawn from its own generator, seeded by child
``k`` of one :class:`numpy.random.SeedSequence`: one uniform per member of
the smaller group drives a partial Fisher-Yates shuffle that picks the
members of that group.  Any range of the stream can
therefore be produced on its own, by any worker, in any order, and the
relabelling at position ``r`` does not depend on how the range was cut into
batches or how the batches were spread over workers.

Exact mode enumerates every split of the samples into groups of the observed
sizes, in lexicographic order of the group-1 index set; position ``r`` is the
split of rank ``r``, computed directly (combinatorial number system).

The sign-flip designs (one-sample, paired) use :class:`SignFlipStream`: the
same seeded blocks, one uniform per sample, and in exact mode every one of
the ``2**n`` flips in binary order.
"""

from __future__ import annotations

from math import comb

import numpy as np
from numba import njit, prange

from ._counting import NUMPY_MAX_ENTRIES

#: Relabellings per independently seeded block of the random stream.  Part of
#: the stream's definition: changing it changes which relabellings a seed gives.
STREAM_BLOCK = 256


class PermutationStream:
    """Relabellings ``[start, stop)`` of one fit's stream, on demand.

    Parameters
    ----------
    group1 : ndarray of shape (n_samples,)
        Observed labels as 1.0 (group 1) and 0.0 (group 0).
    n_permutations : int
        Length of the stream.
    exact : bool
        Enumerate every distinct split instead of drawing random ones.
    entropy : int or sequence of int, default=None
        Seed of the random stream; unused in exact mode.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.permutation._stream import PermutationStream
    >>> stream = PermutationStream(np.array([0., 0., 1., 1.]), 6, exact=True)
    >>> stream.rows(0, 6).astype(int).tolist()
    [[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]]
    """

    def __init__(self, group1, n_permutations, *, exact, entropy=None):
        self.group1 = np.ascontiguousarray(group1, dtype=np.float64)
        self.n_permutations = int(n_permutations)
        self.exact = bool(exact)
        self.entropy = entropy
        n_samples, n_group1 = self.group1.size, int(self.group1.sum())
        if self.exact:
            # binomial[m, j] = C(m, j): the number of ways to finish a split,
            # capped at the stream's length.  A rank is always below that
            # length, so a capped entry still takes its candidate, as the
            # true one would, and nothing is subtracted from a capped entry;
            # the cap keeps the table in int64 for any group sizes.
            cap = self.n_permutations
            self._binomial = np.array(
                [[min(comb(m, j), cap) for j in range(n_group1 + 1)] for m in range(n_samples + 1)],
                dtype=np.int64,
            )

    def rows(self, start, stop):
        """Relabellings ``start`` to ``stop - 1`` as a C-contiguous float64 matrix."""
        if self.exact:
            return self._ranked_splits(start, stop)
        n_samples, n_group1 = self.group1.size, int(self.group1.sum())
        n_drawn = min(n_group1, n_samples - n_group1)
        uniforms = stream_uniforms(self.entropy, start, stop, n_drawn)
        rows = np.empty((stop - start, n_samples))
        # A small batch is drawn in numpy: the same rows, nothing to compile.
        draw = _draw_groups_numpy if rows.size <= NUMPY_MAX_ENTRIES else _draw_groups
        draw(n_samples, float(min(n_group1, n_samples - n_group1) == n_group1), uniforms, rows)
        return rows

    def _ranked_splits(self, start, stop):
        # Walk the candidates in order: a row takes candidate i when its rank
        # falls among the C(n - i - 1, still_needed - 1) splits that start
        # with i, and otherwise skips past those splits.
        n_samples = self.group1.size
        rank = np.arange(start, stop, dtype=np.int64)
        still_needed = np.full(rank.size, int(self.group1.sum()), dtype=np.int64)
        rows = np.zeros((rank.size, n_samples))
        for candidate in range(n_samples):
            open_rows = still_needed > 0
            starting_here = np.where(
                open_rows, self._binomial[n_samples - candidate - 1, np.maximum(still_needed - 1, 0)], 0
            )
            take = open_rows & (rank < starting_here)
            rows[take, candidate] = 1.0
            rank = np.where(open_rows & ~take, rank - starting_here, rank)
            still_needed -= take
        return rows


def stream_uniforms(entropy, start, stop, n_drawn):
    """Uniforms of rows ``start`` to ``stop - 1`` of a seeded-block stream, ``n_drawn`` per row.

    Block ``k`` (rows ``k * STREAM_BLOCK`` on) is drawn from its own
    generator, seeded by child ``k`` of one :class:`numpy.random.SeedSequence`,
    so row ``r`` depends only on ``entropy`` and ``r``.  A block's generator
    is advanced past the rows before ``start`` (``PCG64.advance``: one step
    per double) instead of drawing them, so a batch smaller than a block
    costs and holds only its own rows.
    """
    parts = []
    for block in range(start // STREAM_BLOCK, (stop - 1) // STREAM_BLOCK + 1):
        first = max(start, block * STREAM_BLOCK) - block * STREAM_BLOCK
        last = min(stop, (block + 1) * STREAM_BLOCK) - block * STREAM_BLOCK
        bit_generator = np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(block,)))
        bit_generator.advance(first * n_drawn)
        parts.append(np.random.Generator(bit_generator).random((last - first, n_drawn)))
    return np.concatenate(parts)


class SignFlipStream:
    """Sign flips ``[start, stop)`` of one fit's stream, on demand, in the relabellings' form.

    A row holds 1.0 for the samples that keep their sign and 0.0 for those
    flipped: the 0/1 form every engine multiplies into ``X`` (the mean of
    the flipped data is ``(2 * row - 1) @ X / n``).  Random mode: one
    uniform per sample and row, from the same seeded blocks as
    :class:`PermutationStream` (:func:`stream_uniforms`); a sample is
    flipped when its uniform is below 1/2, so every one of the ``2**n``
    flips is equally likely.  Exact mode: flip ``r`` is the binary
    expansion of ``r`` over the samples, the first sample the most
    significant bit (a set bit flips), so flip 0 is the observed data.

    Parameters
    ----------
    n_samples : int
    n_permutations : int
        Length of the stream (``2**n_samples`` in exact mode).
    exact : bool
        Enumerate every flip instead of drawing random ones.
    entropy : int or sequence of int, default=None
        Seed of the random stream; unused in exact mode.

    Examples
    --------
    >>> from skfast.permutation._stream import SignFlipStream
    >>> SignFlipStream(2, 4, exact=True).rows(0, 4).astype(int).tolist()
    [[1, 1], [1, 0], [0, 1], [0, 0]]
    """

    def __init__(self, n_samples, n_permutations, *, exact, entropy=None):
        self.n_samples = int(n_samples)
        self.n_permutations = int(n_permutations)
        self.exact = bool(exact)
        self.entropy = entropy

    def rows(self, start, stop):
        """Flips ``start`` to ``stop - 1`` as a C-contiguous float64 matrix of 0/1."""
        if self.exact:
            rank = np.arange(start, stop, dtype=np.int64)
            bit = np.arange(self.n_samples - 1, -1, -1, dtype=np.int64)
            return np.ascontiguousarray(((rank[:, None] >> bit) & 1) == 0, dtype=np.float64)
        uniforms = stream_uniforms(self.entropy, start, stop, self.n_samples)
        return np.ascontiguousarray(uniforms >= 0.5, dtype=np.float64)


@njit(cache=True, nogil=True, parallel=True)
def _draw_groups(n_samples, drawn_label, uniforms, rows):
    # A partial Fisher-Yates shuffle per row: only the smaller group's members
    # are drawn (one uniform each), uniformly among all subsets of that size.
    # Compiled, with the uniforms drawn in bulk, this is several times faster
    # than Generator.permuted, which matters when n_features is small.
    # Rows are independent: parallel over rows, the result is the same.
    n_drawn = uniforms.shape[1]
    for r in prange(rows.shape[0]):
        order = np.empty(n_samples, dtype=np.int64)
        for i in range(n_samples):
            order[i] = i
        for i in range(n_samples):
            rows[r, i] = 1.0 - drawn_label
        for i in range(n_drawn):
            # min(): u * (n - i) can round up to n - i when u is within 2**-53 of 1.
            j = i + min(int(uniforms[r, i] * (n_samples - i)), n_samples - i - 1)
            order[i], order[j] = order[j], order[i]
            rows[r, order[i]] = drawn_label



def _draw_groups_numpy(n_samples, drawn_label, uniforms, rows):
    """:func:`_draw_groups` in numpy, one shuffle step for every row at once."""
    n_rows, n_drawn = uniforms.shape
    order = np.tile(np.arange(n_samples), (n_rows, 1))
    every_row = np.arange(n_rows)
    for i in range(n_drawn):
        j = i + np.minimum((uniforms[:, i] * (n_samples - i)).astype(np.int64),
                           n_samples - i - 1)
        picked = order[every_row, j]
        order[every_row, j] = order[:, i]
        order[:, i] = picked
    rows.fill(1.0 - drawn_label)
    rows[every_row[:, np.newaxis], order[:, :n_drawn]] = drawn_label
