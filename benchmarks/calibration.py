"""Simulation before speed: is PermutationTest calibrated?

The answer key of a permutation test is the null hypothesis.  Three checks,
each with ``engine="auto"`` and fixed seeds, each entry compared with a 99%
binomial band (:func:`scipy.stats.binom.interval`) for its number of trials:

* null calibration: the share of null features rejected at ``alpha = 0.05``
  (2000 features per entry; both statistics, normal and heavy-tailed t3
  noise, balanced and unbalanced groups), band around ``alpha``; the
  Kolmogorov-Smirnov p-value of the p-values against the uniform law is
  recorded beside it;
* maxT: the family-wise error rate over 500 null data sets of 50 features
  (any feature rejected after the correction), band around ``alpha``, and the
  uncorrected rate for contrast;
* the same three for the one-sample (sign-flip) design: null rates for
  the mean and the t statistic (normal and t3 noise, both symmetric, as
  the sign-flip null needs), the max-t family-wise error, and power around
  the one-sample t-test's;
* power: the share of shifted features rejected for a rising shift, band
  around the power of the two-sample t-test (the optimal test for normal
  noise; a permutation test of the mean difference with equal groups is the
  permutation version of that same test).

The seeds are fixed so that the published table is reproducible: the same
command gives the same numbers on any machine and engine (the p-values do
not depend on the engine, threads or batch size).  A 99% band means that
about one entry in a hundred falls outside by chance.  ``python -m
benchmarks --only calibration`` runs it into the report's ``calibration``
section.
"""

from __future__ import annotations

import numpy as np

from ._common import NoProgress

ALPHA = 0.05
CONFIDENCE = 0.99
N_SAMPLES = 40
STATISTICS = ("mean_diff", "welch_t")
DISTRIBUTIONS = ("normal", "t3")
GROUPS = (20, 12)  # samples in class 1 of N_SAMPLES: 20/20 and 12/28
NULL_SEED = 7
POWER_SEED = 11
EFFECTS = (0.0, 0.25, 0.5, 1.0)

#: mode -> sizes: null features per entry, null relabellings; maxT data sets,
#: features per set, relabellings; power features, relabellings
SIZES = {
    "full": dict(null_features=2000, null_permutations=999, fwer_sets=500, fwer_features=50,
                 fwer_permutations=499, power_features=1000, power_permutations=999),
    "quick": dict(null_features=500, null_permutations=999, fwer_sets=100, fwer_features=50,
                  fwer_permutations=499, power_features=300, power_permutations=999),
    "smoke": dict(null_features=100, null_permutations=199, fwer_sets=10, fwer_features=10,
                  fwer_permutations=199, power_features=50, power_permutations=199),
}


def binomial_band(rate, n_trials, confidence=CONFIDENCE):
    """The central ``confidence`` interval of binomial(n_trials, rate) / n_trials."""
    from scipy import stats

    low, high = stats.binom.interval(confidence, n_trials, rate)
    return [float(low) / n_trials, float(high) / n_trials]


def t_test_power(effect, n_group1, n_group0, alpha=ALPHA):
    """Power of the two-sided pooled two-sample t-test for a shift of ``effect`` sds."""
    from scipy import stats

    df = n_group1 + n_group0 - 2
    ncp = effect * np.sqrt(n_group1 * n_group0 / (n_group1 + n_group0))
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


def _entry(value, band, **fields):
    return {**fields, "band": band, "in_band": bool(band[0] <= value <= band[1])}


def _null(sizes, progress):
    from scipy import stats

    from skfast.datasets import make_two_group_data
    from skfast.permutation import PermutationTest

    n_features, n_perm = sizes["null_features"], sizes["null_permutations"]
    band = binomial_band(ALPHA, n_features)
    rows = []
    cells = [(s, d, g) for s in STATISTICS for d in DISTRIBUTIONS for g in GROUPS]
    for k, (statistic, distribution, n_group1) in enumerate(cells):
        seed = NULL_SEED + k
        progress.note(f"null {statistic} {distribution} {n_group1}/{N_SAMPLES - n_group1}")
        X, y = make_two_group_data(N_SAMPLES, n_features, balance=n_group1 / N_SAMPLES,
                                   distribution=distribution, random_state=seed)
        test = PermutationTest(n_perm, statistic=statistic, alpha=ALPHA, random_state=seed,
                               engine="auto").fit(X, y)
        rate = float(test.get_support().mean())
        rows.append(_entry(rate, band, statistic=statistic, distribution=distribution,
                           n_group1=n_group1, n_group0=N_SAMPLES - n_group1, seed=seed,
                           engine=test.engine_, rejection_rate=rate,
                           ks_pvalue=float(stats.kstest(test.pvalues_, "uniform").pvalue)))
        progress.step()
    return {"n_samples": N_SAMPLES, "n_features": n_features, "n_permutations": n_perm,
            "rows": rows}


def _fwer(sizes, progress):
    from skfast.datasets import make_two_group_data
    from skfast.permutation import PermutationTest

    n_sets, n_features, n_perm = (sizes["fwer_sets"], sizes["fwer_features"],
                                  sizes["fwer_permutations"])
    band = binomial_band(ALPHA, n_sets)
    rows = []
    for statistic, distribution in zip(STATISTICS, DISTRIBUTIONS):
        progress.note(f"maxT {statistic} {distribution}")
        any_rejected = any_rejected_raw = 0
        engines = set()
        for seed in range(n_sets):
            X, y = make_two_group_data(N_SAMPLES, n_features, distribution=distribution,
                                       random_state=seed)
            test = PermutationTest(n_perm, statistic=statistic, correction="maxT", alpha=ALPHA,
                                   random_state=seed, engine="auto").fit(X, y)
            any_rejected += bool(test.get_support().any())
            any_rejected_raw += bool((test.pvalues_ <= ALPHA).any())
            engines.add(test.engine_)
        fwer = any_rejected / n_sets
        rows.append(_entry(fwer, band, statistic=statistic, distribution=distribution,
                           seeds=[0, n_sets - 1], engine="/".join(sorted(engines)),
                           fwer=fwer, fwer_uncorrected=any_rejected_raw / n_sets))
        progress.step()
    return {"n_samples": N_SAMPLES, "n_sets": n_sets, "n_features": n_features,
            "n_permutations": n_perm, "rows": rows}


def _power(sizes, progress):
    from skfast.datasets import make_two_group_data
    from skfast.permutation import PermutationTest

    n_features, n_perm = sizes["power_features"], sizes["power_permutations"]
    n_group1 = N_SAMPLES // 2
    rows = []
    progress.note("power")
    for effect in EFFECTS:
        # one seed for every effect: the same noise, shifted further
        X, y = make_two_group_data(N_SAMPLES, n_features, effect=effect,
                                   random_state=POWER_SEED)
        test = PermutationTest(n_perm, alpha=ALPHA, random_state=POWER_SEED,
                               engine="auto").fit(X, y)
        power = float(test.get_support().mean())
        expected = t_test_power(effect, n_group1, N_SAMPLES - n_group1)
        rows.append(_entry(power, binomial_band(expected, n_features), effect=effect,
                           engine=test.engine_, power=power, t_test_power=expected))
        progress.step()
    powers = [r["power"] for r in rows]
    return {"n_samples": N_SAMPLES, "n_group1": n_group1, "n_features": n_features,
            "n_permutations": n_perm, "statistic": "mean_diff", "distribution": "normal",
            "seed": POWER_SEED, "rows": rows,
            "rising": bool(np.all(np.diff(powers) > 0))}


def one_sample_t_test_power(effect, n_samples, alpha=ALPHA):
    """Power of the two-sided one-sample t-test for a mean of ``effect`` sds."""
    from scipy import stats

    df = n_samples - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    ncp = effect * np.sqrt(n_samples)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


def _symmetric_noise(distribution, shape, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) if distribution == "normal" else rng.standard_t(3, size=shape)


def _sign_flips(sizes, progress):
    """The one-sample (sign-flip) design: null rates, max-t FWER, power against the t-test."""
    from scipy import stats

    from skfast.permutation import PermutationTest

    def test(n_perm, seed, **options):
        return PermutationTest(n_perm, design="one_sample", alpha=ALPHA, random_state=seed,
                               engine="auto", **options)

    null_rows, fwer_rows, power_rows = [], [], []
    n_features, n_perm = sizes["null_features"], sizes["null_permutations"]
    for k, (statistic, distribution) in enumerate(
            [(s, d) for s in ("mean_diff", "t") for d in DISTRIBUTIONS]):
        seed = NULL_SEED + 100 + k
        progress.note(f"sign flips: null {statistic} {distribution}")
        fit = test(n_perm, seed, statistic=statistic).fit(
            _symmetric_noise(distribution, (N_SAMPLES, n_features), seed))
        rate = float(fit.get_support().mean())
        null_rows.append(_entry(rate, binomial_band(ALPHA, n_features), statistic=statistic,
                                distribution=distribution, seed=seed, engine=fit.engine_,
                                rejection_rate=rate,
                                ks_pvalue=float(stats.kstest(fit.pvalues_, "uniform").pvalue)))
        progress.step()
    n_sets, n_fwer_features, n_fwer_perm = (sizes["fwer_sets"], sizes["fwer_features"],
                                            sizes["fwer_permutations"])
    for distribution in DISTRIBUTIONS:
        progress.note(f"sign flips: max-t {distribution}")
        any_rejected = any_rejected_raw = 0
        for seed in range(n_sets):
            fit = test(n_fwer_perm, seed, statistic="t", correction="maxT").fit(
                _symmetric_noise(distribution, (N_SAMPLES, n_fwer_features), 1000 + seed))
            any_rejected += bool(fit.get_support().any())
            any_rejected_raw += bool((fit.pvalues_ <= ALPHA).any())
        fwer = any_rejected / n_sets
        fwer_rows.append(_entry(fwer, binomial_band(ALPHA, n_sets), statistic="t",
                                distribution=distribution, seeds=[1000, 1000 + n_sets - 1],
                                fwer=fwer, fwer_uncorrected=any_rejected_raw / n_sets))
        progress.step()
    n_power, n_power_perm = sizes["power_features"], sizes["power_permutations"]
    noise = _symmetric_noise("normal", (N_SAMPLES, n_power), POWER_SEED)
    progress.note("sign flips: power")
    for effect in EFFECTS:
        fit = test(n_power_perm, POWER_SEED, statistic="t").fit(noise + effect)
        power = float(fit.get_support().mean())
        expected = one_sample_t_test_power(effect, N_SAMPLES)
        power_rows.append(_entry(power, binomial_band(expected, n_power), effect=effect,
                                 engine=fit.engine_, power=power, t_test_power=expected))
    progress.step()
    powers = [r["power"] for r in power_rows]
    return {"n_samples": N_SAMPLES,
            "null": {"n_features": n_features, "n_permutations": n_perm, "rows": null_rows},
            "maxT": {"n_sets": n_sets, "n_features": n_fwer_features,
                     "n_permutations": n_fwer_perm, "rows": fwer_rows},
            "power": {"n_features": n_power, "n_permutations": n_power_perm, "statistic": "t",
                      "distribution": "normal", "seed": POWER_SEED, "rows": power_rows,
                      "rising": bool(np.all(np.diff(powers) > 0))}}


def run(mode="full", *, progress=None):
    """Null rejection rates, maxT family-wise error and power, each with its binomial band."""
    progress = progress or NoProgress()
    sizes = SIZES[mode]
    n_cells = len(STATISTICS) * len(DISTRIBUTIONS) * len(GROUPS)
    progress.section("permutation calibration", n_cells + 2 + len(EFFECTS) + 7)
    section = {"mode": mode, "alpha": ALPHA, "confidence": CONFIDENCE,
               "null": _null(sizes, progress), "maxT": _fwer(sizes, progress),
               "power": _power(sizes, progress), "sign_flip": _sign_flips(sizes, progress)}
    flips = section["sign_flip"]
    entries = ([r for part in ("null", "maxT", "power") for r in section[part]["rows"]]
               + [r for part in ("null", "maxT", "power") for r in flips[part]["rows"]])
    section["summary"] = {"n_entries": len(entries),
                          "n_in_band": sum(r["in_band"] for r in entries),
                          "power_rising": section["power"]["rising"],
                          "sign_flip_power_rising": flips["power"]["rising"]}
    return section


def _band_text(band, fmt=".3f"):
    return f"[{band[0]:{fmt}}, {band[1]:{fmt}}]"


def _power_lines(rows, yes):
    return [f"{r['effect']:6.2f} {r['power']:9.3f} {r['t_test_power']:13.3f} "
            f"{_band_text(r['band']):>16} {yes[r['in_band']]:>8}" for r in rows]


def report(section):
    """The three calibration tables as text."""
    null, fwer, power = section["null"], section["maxT"], section["power"]
    conf = f"{100 * section['confidence']:.0f}%"
    yes = {True: "yes", False: "NO"}
    lines = [f"PermutationTest null calibration: share of {null['n_features']} null features "
             f"rejected at alpha={section['alpha']} (n={null['n_samples']}, "
             f"R={null['n_permutations']}, engine=\"auto\")",
             f"{'statistic':<10} {'noise':<7} {'groups':<7} {'rejected':>9} "
             f"{conf + ' band':>16} {'KS p':>7} {'in band':>8}"]
    lines += [f"{r['statistic']:<10} {r['distribution']:<7} "
              f"{str(r['n_group1']) + '/' + str(r['n_group0']):<7} {r['rejection_rate']:9.4f} "
              f"{_band_text(r['band'], '.4f'):>16} {r['ks_pvalue']:7.3f} {yes[r['in_band']]:>8}"
              for r in null["rows"]]
    lines += ["", f"maxT family-wise error over {fwer['n_sets']} null data sets of "
              f"{fwer['n_features']} features (n={fwer['n_samples']}, R={fwer['n_permutations']})",
              f"{'statistic':<10} {'noise':<7} {'FWER maxT':>10} {conf + ' band':>16} "
              f"{'uncorrected':>12} {'in band':>8}"]
    lines += [f"{r['statistic']:<10} {r['distribution']:<7} {r['fwer']:10.3f} "
              f"{_band_text(r['band']):>16} {r['fwer_uncorrected']:12.3f} {yes[r['in_band']]:>8}"
              for r in fwer["rows"]]
    lines += ["", f"Power: share of {power['n_features']} shifted features rejected "
              f"(n={power['n_samples']}, {power['statistic']}, {power['distribution']} noise, "
              f"R={power['n_permutations']}); rising: {yes[power['rising']]}",
              f"{'effect':>6} {'rejected':>9} {'t-test power':>13} {conf + ' band':>16} "
              f"{'in band':>8}"]
    lines += _power_lines(power["rows"], yes)
    flips = section.get("sign_flip")
    if flips:
        lines += ["", f"Sign flips (design=\"one_sample\", n={flips['n_samples']}): null "
                  f"rejection over {flips['null']['n_features']} features "
                  f"(R={flips['null']['n_permutations']})",
                  f"{'statistic':<10} {'noise':<7} {'rejected':>9} {conf + ' band':>16} "
                  f"{'KS p':>7} {'in band':>8}"]
        lines += [f"{r['statistic']:<10} {r['distribution']:<7} {r['rejection_rate']:9.4f} "
                  f"{_band_text(r['band'], '.4f'):>16} {r['ks_pvalue']:7.3f} "
                  f"{yes[r['in_band']]:>8}" for r in flips["null"]["rows"]]
        m = flips["maxT"]
        lines += ["", f"Sign flips, max-t FWER over {m['n_sets']} null data sets of "
                  f"{m['n_features']} features (R={m['n_permutations']})"]
        lines += [f"{r['distribution']:<7} {r['fwer']:10.3f} {_band_text(r['band']):>16} "
                  f"uncorrected {r['fwer_uncorrected']:.3f} {yes[r['in_band']]:>8}"
                  for r in m["rows"]]
        pw = flips["power"]
        lines += ["", f"Sign flips, power of t against the one-sample t-test "
                  f"({pw['n_features']} features, R={pw['n_permutations']}); rising: "
                  f"{yes[pw['rising']]}"]
        lines += _power_lines(pw["rows"], yes)
    s = section["summary"]
    lines += ["", f"{s['n_in_band']} of {s['n_entries']} entries inside their {conf} band"]
    return "\n".join(lines)
