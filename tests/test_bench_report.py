"""The benchmark report's machinery, on committed results: no benchmark runs here."""

import io
import json

import pytest

from skfast.bench import _cli, _common, docs, recovery

RESULTS = docs.RESULTS_DIR


@pytest.mark.parametrize("name, peer, unit", [
    ("kmeans", "vs sklearn lloyd", "iter/s"),
    ("permutation", "vs scipy", "perm x feat/s"),
    ("hma", "vs M0", "combos/s"),
])
def test_report_tables_from_committed_results(name, peer, unit):
    text = _cli.report_text(_cli.load_document(RESULTS / f"{name}.json"))
    header = next(line for line in text.splitlines() if line.startswith("engine "))
    for column in ("wall (s)", "CPU (s)", "CPU/wall", unit, peer, "compile (s)"):
        assert column in header
    assert ("GEMM peak" in header) == (name != "hma")
    assert 'engine="auto" vs the fastest engine' in text


def test_auto_entries_cover_every_grid_shape():
    sources = docs.load_results()
    from skfast.bench import hma, kmeans, permutation

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
