"""The PermutationTest section of ``python -m skfast``: gate first, then timings."""

import sys
import time

import numpy as np

from ..datasets._permutation import make_two_group_data
from ._permutation_test import PermutationTest, null_scale


#: (data, test options) pairs: normal, heavy-tailed and discrete noise;
#: unbalanced groups; Welch's t with maxT; a one-sided test.
DEMO_WORKLOADS = [
    (dict(n_samples=40, n_features=20, effect=0.5), dict()),
    (dict(n_samples=40, n_features=20, distribution="t3", balance=0.3),
     dict(statistic="welch_t", correction="maxT")),
    (dict(n_samples=40, n_features=20, distribution="discrete"), dict(alternative="greater")),
]


def equivalence_gate(workloads, seeds=(0, 1), n_permutations=199):
    """Fit every installed engine on each workload and compare it to the reference loop.

    Parameters
    ----------
    workloads : list of (dict, dict)
        Keyword arguments of ``make_two_group_data`` and of ``PermutationTest``.
    seeds : sequence of int, default=(0, 1)
        Seeds of the data and of the relabellings.
    n_permutations : int, default=199
        Relabellings per fit.

    Returns
    -------
    gate : dict
        ``passed`` (every engine passes PermutationTest's gate against the
        reference), ``max_abs_p_diff`` (0 when it passes), ``max_rel_stat_diff``
        (relative to ``max(|t|, null scale)``), ``problems`` and ``engines``.

    Examples
    --------
    >>> from skfast.permutation._demo import DEMO_WORKLOADS, equivalence_gate
    >>> equivalence_gate(DEMO_WORKLOADS[:1], seeds=(0,))["passed"]
    True
    """
    table = PermutationTest._engine_table
    engines = table.available()
    worst_p, worst_stat, problems = 0.0, 0.0, []
    for data, options in workloads:
        for seed in seeds:
            X, y = make_two_group_data(**data, random_state=seed)
            fitted = {e: PermutationTest(n_permutations, engine=e, random_state=seed,
                                         **options).fit(X, y) for e in engines}
            reference = fitted[table.gate.oracle]
            scale = np.maximum(np.abs(reference.statistic_),
                               null_scale(X, y, reference.statistic))
            for name, est in fitted.items():
                problems += [f"{name}: {p}" for p in table.gate.mismatches(reference, est, X, y)]
                worst_p = max(worst_p, float(np.max(np.abs(est.pvalues_ - reference.pvalues_))))
                worst_stat = max(worst_stat, float(np.max(
                    np.abs(est.statistic_ - reference.statistic_) / scale)))
    return {"max_abs_p_diff": worst_p, "max_rel_stat_diff": worst_stat,
            "passed": not problems, "problems": problems, "engines": engines}


def run_demo(quick=True, file=None):
    """Print the equivalence gate across installed engines, then a timing table.

    The gate fits every installed engine on small simulated workloads (normal,
    heavy-tailed and discrete noise; Welch's t with the maxT correction) and
    reports the largest p-value and statistic differences from the reference
    loop.  Timings follow only if the gate passes: each engine fits one
    larger null data set (after one untimed call that compiles), with its
    speed-up over the reference loop.

    Parameters
    ----------
    quick : bool, default=True
        Small timing problem (n=200, p=200, R=999) instead of n=500, p=2000,
        R=1000.
    file : file-like, default=None
        Where to print; ``sys.stdout`` when None.

    Returns
    -------
    passed : bool
        Whether the equivalence gate passed.

    Examples
    --------
    >>> import io
    >>> from skfast.permutation._demo import run_demo
    >>> buffer = io.StringIO()
    >>> run_demo(file=buffer)
    True
    >>> "max |p diff| = 0" in buffer.getvalue()
    True
    """
    file = file or sys.stdout
    print("PermutationTest: per-feature two-group permutation test", file=file)
    gate = equivalence_gate(DEMO_WORKLOADS, seeds=(0,))
    print(f"  gate: {len(DEMO_WORKLOADS)} workloads x {len(gate['engines'])} engines "
          f"({', '.join(gate['engines'])}) vs reference: max |p diff| = "
          f"{gate['max_abs_p_diff']:g}, max stat rel diff = {gate['max_rel_stat_diff']:.1e} -> "
          f"{'PASS' if gate['passed'] else 'FAIL'}", file=file)
    if not gate["passed"]:
        return False
    engines = gate["engines"]

    n, p, R = (200, 200, 999) if quick else (500, 2000, 1000)
    X, y = make_two_group_data(n, p, random_state=1)
    print(f"  timing: n={n}, p={p}, R={R} (warm wall time)", file=file)
    print(f"    {'engine':<10} {'wall s':>8} {'vs reference':>13}", file=file)
    walls = {}
    for engine in engines:
        test = PermutationTest(R, engine=engine, random_state=0)
        test.fit(X, y)  # compile / warm up
        started = time.perf_counter()
        test.fit(X, y)
        walls[engine] = time.perf_counter() - started
        print(f"    {engine:<10} {walls[engine]:>8.3f} "
              f"{walls['reference'] / walls[engine]:>12.0f}x", file=file)
    return True
