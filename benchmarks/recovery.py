"""Simulation before speed: does k-means recover the true clusters?

Adjusted Rand index (ARI) of FastKMeans against the simulated truth, per
scenario of :func:`skfast.datasets.make_kmeans_scenario`, over 5 seeds (1 = perfect
recovery, 0 = chance).  Outliers are labelled -1 in the truth, so they count
as a cluster of their own.  ``python -m benchmarks --only recovery`` puts
the section in the report.
"""

from __future__ import annotations

import numpy as np


from ._common import NoProgress

SEEDS = range(5)
N_CLUSTERS = 4
N_INIT = 10


def run(mode="full", *, progress=None):
    """ARI per scenario (the same in full and quick mode; one seed in smoke mode)."""
    from sklearn.metrics import adjusted_rand_score

    from skfast import FastKMeans
    from skfast.datasets import KMEANS_SCENARIOS, make_kmeans_scenario

    progress = progress or NoProgress()
    seeds = range(1) if mode == "smoke" else SEEDS
    progress.section("kmeans recovery", len(KMEANS_SCENARIOS))
    rows = []
    n_samples = None
    for scenario in KMEANS_SCENARIOS:
        progress.note(scenario)
        scores = []
        for seed in seeds:
            X, y = make_kmeans_scenario(scenario, random_state=seed)
            n_samples = len(X)
            labels = FastKMeans(n_clusters=N_CLUSTERS, n_init=N_INIT,
                                random_state=seed).fit(X).labels_
            scores.append(adjusted_rand_score(y, labels))
        rows.append({"scenario": scenario, "ari_mean": float(np.mean(scores)),
                     "ari_min": float(np.min(scores)), "ari": scores})
        progress.step()
    return {"mode": mode, "n_samples": n_samples, "n_clusters": N_CLUSTERS, "n_init": N_INIT,
            "seeds": list(seeds), "rows": rows}


def report(section):
    """The ARI table as text."""
    lines = [f"FastKMeans recovery: adjusted Rand index vs the simulated truth "
             f"({section['n_samples']} points, {section['n_clusters']} clusters, "
             f"n_init={section['n_init']}, seeds {section['seeds']})",
             f"{'scenario':<14} {'mean ARI':>9} {'min ARI':>9}"]
    lines += [f"{r['scenario']:<14} {r['ari_mean']:9.3f} {r['ari_min']:9.3f}" for r in section["rows"]]
    return "\n".join(lines)
