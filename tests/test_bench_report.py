"""The benchmark report's machinery, on committed results: no benchmark runs here."""

import io
import json

import pytest

from benchmarks import _cli, _common, docs, recovery

RESULTS = docs.RESULTS_DIR


@pytest.mark.parametrize("name, peer, unit", [
    ("kmeans", "vs sklearn lloyd", "iter/s"),
    ("permutation", "vs scipy", "perm x feat/s"),
    ("hma", "vs M0", "combos/s"),
])
def test_report_tables_from_committed_results(name, peer, unit):
    report = _cli.load_document(RESULTS / "bench.json")
    text = _cli.report_text({"benchmark": "bench", name: report[name]})
    header = next(line for line in text.splitlines() if line.startswith("engine "))
    for column in ("wall (s)", "CPU (s)", "CPU/wall", unit, peer, "compile (s)"):
        assert column in header
    assert ("GEMM peak" in header) == (name != "hma")
    assert 'engine="auto" vs the fastest engine' in text


def test_auto_entries_cover_every_grid_shape():
    sources = docs.load_results()
    from benchmarks import hma, kmeans, permutation

    assert len(kmeans.auto_vs_fastest(sources["kmeans"].section)) == len(
        sources["kmeans"].section["shapes"])
    assert len(permutation.auto_vs_fastest(sources["permutation"].section)) == len(
        sources["permutation"].section["grid"]["cells"])
    entries = hma.auto_vs_fastest(sources["hma"].section)
    assert len(entries) == 1 + len(sources["hma"].section["auto_rule"])
    for entry in entries:
        assert entry["ratio"] == pytest.approx(entry["auto_s"] / entry["fastest_s"])


def test_progress_bar_draws_only_on_a_terminal(capsys):
    stream = io.StringIO()
    bar = _common.Progress(enabled=True, stream=stream)
    bar.section("demo", 2)
    bar.step("next")
    bar.log("a line")
    bar.close()
    assert "\r[demo]" in stream.getvalue() and "1/2" in stream.getvalue()
    assert capsys.readouterr().out == "a line\n"
    silent = io.StringIO()
    quiet = _common.Progress(stream=silent)  # StringIO is not a tty
    quiet.section("demo", 1)
    quiet.step()
    assert silent.getvalue() == ""


def test_only_merges_into_an_existing_report(tmp_path, monkeypatch):
    output = tmp_path / "bench.json"
    kept = {"shapes": "from an earlier run"}
    output.write_text(json.dumps({"benchmark": "bench", "mode": "smoke", "kmeans": kept,
                                  "charts": {"kmeans": "bench_kmeans.png"}}))
    section = {"mode": "smoke", "n_samples": 600, "n_clusters": 4, "n_init": 10, "seeds": [0],
               "rows": [{"scenario": "separated", "ari_mean": 1.0, "ari_min": 1.0, "ari": [1.0]}]}
    monkeypatch.setattr(recovery, "run", lambda mode, progress=None: dict(section))
    document = _cli.run_report("smoke", ["recovery"], output, _common.Progress(enabled=False),
                               ["--only", "recovery"])
    written = json.loads(output.read_text())
    assert written["kmeans"] == kept and written["charts"] == {"kmeans": "bench_kmeans.png"}
    assert written["kmeans_recovery"]["rows"] == section["rows"]
    assert written["machine"]["cores"] >= 1 and document["mode"] == "smoke"
    assert written["kmeans_recovery"]["machine"]["cores"] >= 1


def test_a_kept_section_keeps_the_machine_it_ran_on(tmp_path, monkeypatch):
    """Merging an --only run must not relabel older sections with this machine's BLAS kernel."""
    output = tmp_path / "bench.json"
    earlier = {"cores": 64, "blas": [{"internal_api": "openblas", "architecture": "Haswell"}]}
    output.write_text(json.dumps({"benchmark": "bench", "mode": "smoke", "machine": earlier,
                                  "kmeans": {"shapes": "from an earlier run"}}))
    section = {"mode": "smoke", "n_samples": 600, "n_clusters": 4, "n_init": 10, "seeds": [0],
               "rows": [{"scenario": "separated", "ari_mean": 1.0, "ari_min": 1.0, "ari": [1.0]}]}
    monkeypatch.setattr(recovery, "run", lambda mode, progress=None: dict(section))
    _cli.run_report("smoke", ["recovery"], output, _common.Progress(enabled=False),
                    ["--only", "recovery"])
    written = json.loads(output.read_text())
    assert written["kmeans"]["machine"] == earlier
    assert written["kmeans_recovery"]["machine"] == written["machine"] != earlier


def _calibration_section(mode="smoke"):
    """A calibration section of the shape ``calibration.run`` returns (made up, no test run)."""
    band = [0.04, 0.06]
    return {
        "mode": mode, "alpha": 0.05, "confidence": 0.99,
        "null": {"n_samples": 40, "n_features": 2000, "n_permutations": 999, "rows": [
            {"statistic": "mean_diff", "distribution": "normal", "n_group1": 20, "n_group0": 20,
             "seed": 7, "engine": "numpy", "rejection_rate": 0.0515, "ks_pvalue": 0.42,
             "band": band, "in_band": True},
            {"statistic": "welch_t", "distribution": "t3", "n_group1": 12, "n_group0": 28,
             "seed": 8, "engine": "numpy", "rejection_rate": 0.0675, "ks_pvalue": 0.01,
             "band": band, "in_band": False}]},
        "maxT": {"n_samples": 40, "n_sets": 500, "n_features": 50, "n_permutations": 499,
                 "rows": [{"statistic": "welch_t", "distribution": "t3", "seeds": [0, 499],
                           "engine": "numba", "fwer": 0.046, "fwer_uncorrected": 0.918,
                           "band": [0.03, 0.072], "in_band": True}]},
        "power": {"n_samples": 40, "n_group1": 20, "n_features": 1000, "n_permutations": 999,
                  "statistic": "mean_diff", "distribution": "normal", "seed": 11, "rising": True,
                  "rows": [{"effect": e, "engine": "numpy", "power": p, "t_test_power": p,
                            "band": [p - 0.02, p + 0.02], "in_band": True}
                           for e, p in ((0.0, 0.05), (0.5, 0.337), (1.0, 0.869))]},
        "summary": {"n_entries": 6, "n_in_band": 5, "power_rising": True},
    }


def test_calibration_section_report_and_block(tmp_path, monkeypatch):
    """``--only calibration`` writes the ``calibration`` section; its table and doc block render."""
    from benchmarks import calibration

    assert "calibration" in _cli.BENCHMARKS and "permutation-calibration" in docs.BLOCK_NAMES
    output = tmp_path / "bench.json"
    monkeypatch.setattr(calibration, "run", lambda mode, progress=None: _calibration_section(mode))
    _cli.run_report("smoke", ["calibration"], output, _common.Progress(enabled=False),
                    ["--only", "calibration"])
    document = _cli.load_document(output)
    assert document["calibration"]["null"]["rows"][0]["rejection_rate"] == 0.0515
    text = _cli.report_text(document)
    assert "0.0515" in text and "NO" in text and "5 of 6 entries" in text

    sources = docs.load_results(output)
    md = docs.render("permutation-calibration", sources, "md")
    assert "| `welch_t` | t3 | 12/28 | 0.0675 | 0.0400 to 0.0600 | 0.010 | **no** |" in md
    assert "**5 of 6** entries" in md and "(smoke run)" in md
    rst = docs.render("permutation-calibration", sources, "rst")
    assert ".. list-table::" in rst and "``welch_t``" in rst
    page = tmp_path / "page.rst"
    page.write_text(".. BEGIN bench:permutation-calibration\n.. END bench:permutation-calibration\n")
    changed, problems = docs.update([page], sources)
    assert changed and not problems
    assert docs.check([page], sources) == [] and "0.0675" in page.read_text()


def test_calibration_bands():
    from scipy import stats

    from benchmarks import calibration

    low, high = calibration.binomial_band(0.05, 2000)
    assert low < 0.05 < high
    assert stats.binom.cdf(high * 2000, 2000, 0.05) >= 0.995
    assert calibration.t_test_power(0.0, 20, 20) == pytest.approx(0.05)
    powers = [calibration.t_test_power(e, 20, 20) for e in calibration.EFFECTS]
    assert powers == sorted(powers) and 0.8 < powers[-1] < 0.95


def test_every_benchmark_runs_gated_at_smoke_size(tmp_path, capsys):
    """The benchmark package itself is exercised: each estimator's benchmark gates, times, plots."""
    pytest.importorskip("matplotlib")
    output = tmp_path / "bench.json"
    assert _cli.main(["--smoke", "--only", "kmeans,permutation,hma", "--output", str(output),
                      "--no-progress"]) == 0
    capsys.readouterr()
    document = json.loads(output.read_text())
    assert document["mode"] == "smoke"
    for key in ("kmeans", "permutation", "hma"):
        assert document[key]["table"] and document[key]["auto_vs_fastest"]
        assert (tmp_path / document["charts"][key]).stat().st_size > 0
