"""``python -m benchmarks``: the benchmark report, and the documentation's numbers.

Runs the FastKMeans, PermutationTest and HMASweep benchmarks, each gating
every engine on equivalence before it times anything, and the statistical
checks (k-means recovery, PermutationTest calibration); prints one
comparison table per estimator, an ``engine="auto"`` vs fastest-engine table
and the checks' tables, and writes one JSON report with PNG charts beside
it.  ``--update-docs`` / ``--check-docs`` regenerate or verify the
``bench:NAME`` blocks of README.md and doc/*.rst from the committed results.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from ._timing import RESULTS_DIR
from ._common import AUTO_TOLERANCE, Progress, format_auto_table, write_document

#: --only name -> (module, section key in the report)
BENCHMARKS = {
    "kmeans": ("kmeans", "kmeans"),
    "permutation": ("permutation", "permutation"),
    "hma": ("hma", "hma"),
    "recovery": ("recovery", "kmeans_recovery"),
    "calibration": ("calibration", "calibration"),
}
SCHEMA_VERSION = 1


def _module(name):
    import importlib

    return importlib.import_module(f".{BENCHMARKS[name][0]}", __package__)


def default_output(mode) -> Path:
    if mode == "smoke":
        return Path(tempfile.gettempdir()) / "skfast_bench_smoke.json"
    return RESULTS_DIR / ("bench.json" if mode == "full" else "bench_quick.json")


def chart_path(output, name) -> Path:
    """``bench.json`` -> ``bench_kmeans.png``, beside the report."""
    output = Path(output)
    return output.with_name(f"{output.stem}_{name}.png")


def auto_summary(document) -> dict:
    """The report's "auto vs fastest" section, over every estimator section present."""
    entries = []
    for name in ("kmeans", "permutation", "hma"):
        if name in document:
            entries += document[name].get("auto_vs_fastest", [])
    return {"tolerance": AUTO_TOLERANCE, "entries": entries,
            "n_shapes": len(entries), "n_within": sum(e["within_tolerance"] for e in entries),
            "worst_ratio": max((e["ratio"] for e in entries), default=None)}


def report_text(document) -> str:
    """Every comparison table of a report, then the auto table."""
    blocks, entries = [], []
    for name, (_, key) in BENCHMARKS.items():
        if key in document:
            module = _module(name)
            blocks.append(module.report(document[key]))
            if hasattr(module, "auto_vs_fastest"):
                entries += module.auto_vs_fastest(document[key])
    if entries:
        blocks.append(format_auto_table(entries))
    return "\n\n".join(blocks)


def load_document(path) -> dict:
    """A report written by :func:`run_report`."""
    import json

    document = json.loads(Path(path).read_text())
    if document.get("benchmark") != "bench":
        raise SystemExit(f"{path}: not a report of python -m benchmarks")
    return document


def run_report(mode, only, output, progress, argv) -> dict:
    """Run the benchmarks ``only`` in ``mode``; write the report after each one."""
    import json

    from skfast._show_versions import machine_info

    output = Path(output)
    document = {"benchmark": "bench", "schema_version": SCHEMA_VERSION, "mode": mode,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "command": "python -m benchmarks " + " ".join(argv),
                "machine": machine_info(), "charts": {}}
    # Sections not run now are kept from an earlier report of the same mode.
    if output.exists() and set(only) != set(BENCHMARKS):
        try:
            previous = json.loads(output.read_text())
        except ValueError:
            previous = {}
        if previous.get("benchmark") == "bench" and previous.get("mode") == mode:
            for name, (_, key) in BENCHMARKS.items():
                if name not in only and key in previous:
                    document[key] = previous[key]
                    if "machine" not in document[key] and previous.get("machine"):
                        # a kept section keeps the machine it was measured on
                        document[key] = {"machine": previous["machine"], **document[key]}
                    if key in previous.get("charts", {}):
                        document["charts"][key] = previous["charts"][key]
    started = time.perf_counter()
    for name in only:
        module = _module(name)
        key = BENCHMARKS[name][1]
        t0 = time.perf_counter()
        section = module.run(mode, progress=progress)
        section["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        section["elapsed_s"] = time.perf_counter() - t0
        section["machine"] = machine_info()
        if hasattr(module, "comparison_rows"):
            section["table"] = module.comparison_rows(section)
            section["auto_vs_fastest"] = module.auto_vs_fastest(section)
        document[key] = section
        if hasattr(module, "plot"):
            progress.note("chart")
            path = chart_path(output, name)
            module.plot(section, path)
            document["charts"][key] = path.name
        document["auto_vs_fastest"] = auto_summary(document)
        document["elapsed_s"] = time.perf_counter() - started
        write_document(document, output)
        progress.log(f"{name}: done in {section['elapsed_s']:.0f} s; wrote {output}")
    progress.close()
    return document


def replot(source) -> list:
    """Redraw every chart of the report at ``source`` from its JSON; the paths drawn.

    Charts and tables then come from the same numbers by construction.
    """
    document = load_document(source)
    drawn = []
    for name, (_, key) in BENCHMARKS.items():
        module = _module(name)
        if key in document and hasattr(module, "plot"):
            path = chart_path(source, name)
            module.plot(document[key], path)
            drawn.append(path)
    return drawn


def _only(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark {', '.join(unknown)}; choose among {', '.join(BENCHMARKS)}")
    return names


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
        epilog="make bench runs the full report (the published numbers); make bench-quick "
               "a pass of a few minutes.")
    parser.add_argument("--quick", action="store_true",
                        help="small shapes (minutes); writes bench_quick.json")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", type=_only, default=list(BENCHMARKS), metavar="NAMES",
                        help="comma-separated subset of: " + ", ".join(BENCHMARKS)
                        + " (default: all; sections not run are kept from the existing report)")
    parser.add_argument("--output", type=Path, metavar="PATH",
                        help="report path (default: benchmarks/results/bench.json, "
                             "bench_quick.json with --quick); charts go beside it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--update-docs", action="store_true",
                      help="regenerate the bench:NAME blocks of README.md and doc/*.rst "
                           "from the results; runs no benchmark")
    docs.add_argument("--check-docs", action="store_true",
                      help="exit 1 listing every bench block that differs from the results "
                           "(and unknown blocks, blocks without data, numbers outside blocks)")
    parser.add_argument("--from", dest="source", type=Path, metavar="JSON",
                        help="results to read: with --update-docs/--check-docs (default: "
                             "benchmarks/results/bench.json); alone, print the "
                             "tables of that report")
    parser.add_argument("--replot", action="store_true",
                        help="redraw the charts of a report (--from, default bench.json) from "
                             "its JSON alone, without running anything")
    parser.add_argument("--files", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.update_docs or args.check_docs:
        from . import docs

        if args.update_docs:
            changed, problems = docs.update(args.files, args.source)
            for line in changed:
                print(f"updated {line}")
            if not changed:
                print("every bench block is up to date")
        else:
            problems = docs.check(args.files, args.source)
            if not problems:
                print("every bench block matches the results")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0

    if args.replot:
        source = args.source or default_output("full")
        for path in replot(source):
            print(f"drew {path}")
        return 0

    if args.source is not None:
        print(report_text(load_document(args.source)))
        return 0

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    output = args.output or default_output(mode)
    progress = Progress(enabled=False if args.no_progress else None)
    started = time.perf_counter()
    document = run_report(mode, args.only, output, progress, argv)
    print()
    print(report_text(document))
    print(f"\n{mode} report: {output} (charts beside it) in {time.perf_counter() - started:.0f} s")
    if mode == "full" and output == default_output("full"):
        print("publish: python -m benchmarks --update-docs, then review and commit "
              "README.md, doc/ and benchmarks/results/")
    return 0
