"""Simulation before speed: does k-means recover the true clusters?

Adjusted Rand index (ARI) of FastKMeans against the simulated truth, per
scenario of :func:`skfast.datasets.make_kmeans_scenario`, over 5 seeds (1 = perfect
recovery, 0 = chance).  Outliers are labelled -1 in the truth, so they count
as a cluster of their own.  Writes ``benchmarks/results/kmeans_recovery.json``
and prints a Markdown table for the docs.
"""

import numpy as np
from sklearn.metrics import adjusted_rand_score

from skfast import FastKMeans
from skfast._bench import write_results
from skfast.datasets import KMEANS_SCENARIOS, make_kmeans_scenario

SEEDS = range(5)


def main():
    rows = []
    for scenario in KMEANS_SCENARIOS:
        scores = []
        for seed in SEEDS:
            X, y = make_kmeans_scenario(scenario, random_state=seed)
            labels = FastKMeans(n_clusters=4, n_init=10, random_state=seed).fit(X).labels_
            scores.append(adjusted_rand_score(y, labels))
        rows.append({"scenario": scenario, "ari_mean": float(np.mean(scores)),
                     "ari_min": float(np.min(scores)), "ari": scores})
    print("| scenario | mean ARI | min ARI |\n|---|---|---|")
    for r in rows:
        print(f"| {r['scenario']} | {r['ari_mean']:.3f} | {r['ari_min']:.3f} |")
    write_results("kmeans_recovery", {"n_samples": 600, "n_clusters": 4, "n_init": 10,
                                      "seeds": list(SEEDS), "rows": rows})


if __name__ == "__main__":
    main()
