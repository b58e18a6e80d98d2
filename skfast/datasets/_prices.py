"""Simulated price series for the HMA sweep."""

import numpy as np
from sklearn.utils import check_random_state


def make_gbm_prices(n_bars=150_000, *, sigma=0.0008, s0=30_000.0, n_assets=1, random_state=42):
    """Geometric Brownian motion closes, the HMA paper's default workload.

    Log returns are i.i.d. ``normal(0, sigma)`` and ``close = s0 * exp(cumsum)``.
    With ``random_state`` an integer the returns are drawn from
    ``np.random.default_rng(random_state)``, exactly the paper's generator, so
    the defaults reproduce its series bit for bit.

    Parameters
    ----------
    n_bars : int, default=150_000
        Number of bars (rows).
    sigma : float, default=0.0008
        Standard deviation of the per-bar log return.
    s0 : float, default=30_000.0
        Starting price.
    n_assets : int, default=1
        Number of independent series (columns); column ``j > 0`` continues
        the same generator after column ``j - 1``.
    random_state : int, numpy Generator or None, default=42
        Seed or generator of the returns.

    Returns
    -------
    close : ndarray of shape (n_bars,) if n_assets == 1 else (n_bars, n_assets)
        Strictly positive closing prices.

    Examples
    --------
    >>> from skfast.datasets import make_gbm_prices
    >>> close = make_gbm_prices(1_000, random_state=0)
    >>> close.shape, bool((close > 0).all())
    ((1000,), True)
    """
    if isinstance(random_state, np.random.Generator):
        rng = random_state
    elif random_state is None or isinstance(random_state, (int, np.integer)):
        rng = np.random.default_rng(random_state)
    else:
        rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    columns = [s0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n_bars))) for _ in range(n_assets)]
    return columns[0] if n_assets == 1 else np.column_stack(columns)
