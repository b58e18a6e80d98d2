"""Every benchmark number in README.md and doc/*.rst is generated from the committed results.

No benchmark runs here: the results JSON (``benchmarks/results/bench.json``,
the one report) is rendered into the text of each
``bench:NAME`` block and compared with the files.  On failure run
``python -m benchmarks --update-docs`` (after a benchmark run), review the
diff and commit it with the results.
"""

import json

import pytest

from benchmarks import docs
from benchmarks._cli import main


def test_docs_match_committed_results():
    problems = docs.check()
    assert not problems, (
        "benchmark numbers in the docs drifted from the committed results; run "
        "`python -m benchmarks --update-docs` and review:\n" + "\n".join(problems))


def test_readme_quotes_every_block():
    names = {b.name for b in docs.parse_blocks(
        (docs.REPO_ROOT / "README.md").read_text().split("\n"), "md")[0]}
    assert names == set(docs.BLOCK_NAMES)


@pytest.fixture
def sources():
    return docs.load_results()


def test_check_reports_drift_unknown_and_missing(tmp_path, sources):
    good = tmp_path / "page.rst"
    good.write_text("Title\n=====\n\n.. BEGIN bench:kmeans-recovery\n.. END bench:kmeans-recovery\n")
    changed, problems = docs.update([good], sources)
    assert changed and not problems
    assert docs.check([good], sources) == []
    assert "0.162" in good.read_text()

    # a hand-edited number, an unknown block, a malformed marker, a stray number
    text = good.read_text().replace("0.162", "0.170")
    text += ("\n.. BEGIN bench:nonsense\n.. END bench:nonsense\n"
             "\n.. BEGIN  bench:kmeans\n\nThe overlapping scenario scores 0.139.\n")
    good.write_text(text)
    problems = "\n".join(docs.check([good], sources))
    assert "bench:kmeans-recovery differs" in problems
    assert "unknown block bench:nonsense" in problems
    assert "malformed bench marker" in problems
    assert "0.139 quoted outside a bench block" in problems

    # a block whose results are missing
    readme = tmp_path / "README.md"
    readme.write_text("<!-- BEGIN bench:hma -->\n<!-- END bench:hma -->\n")
    no_hma = {k: v for k, v in sources.items() if k != "hma"}
    assert "has no data" in "\n".join(docs.check([readme], no_hma))


def test_results_come_from_one_report(tmp_path, sources):
    """The report is the only source: a section it lacks has no data, never a fallback."""
    recovery = dict(sources["kmeans_recovery"].section)
    recovery["rows"] = [dict(recovery["rows"][0], ari_mean=0.5, ari_min=0.25)]
    report = {"benchmark": "bench", "mode": "full", "machine": sources["kmeans"].machine,
              "kmeans_recovery": recovery}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(report))
    loaded = docs.load_results(path)
    assert set(loaded) == {"kmeans_recovery"} and loaded["kmeans_recovery"].path == path
    text = docs.render("kmeans-recovery", loaded, "md")
    assert "| separated | 0.500 | 0.250 |" in text and "python -m benchmarks" in text
    with pytest.raises(FileNotFoundError, match="no benchmark report"):
        docs.load_results(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text(json.dumps({"benchmark": "kmeans"}))
    with pytest.raises(ValueError, match="not a report"):
        docs.load_results(tmp_path / "other.json")


def test_nothing_to_check_is_a_failure(tmp_path, sources):
    """In an installed copy there are no docs beside the results: the check must not pass."""
    assert docs.check([], sources) != []
    empty = tmp_path / "page.rst"
    empty.write_text("Title\n=====\n\nNo generated block here.\n")
    assert any("no bench block" in p for p in docs.check([empty], sources))


def test_cli_check_docs_exit_status(tmp_path, capsys):
    page = tmp_path / "page.rst"
    page.write_text(".. BEGIN bench:kmeans-recovery\n.. END bench:kmeans-recovery\n")
    assert main(["--check-docs", "--files", str(page)]) == 1
    assert main(["--update-docs", "--files", str(page)]) == 0
    assert main(["--check-docs", "--files", str(page)]) == 0
    capsys.readouterr()
