"""Benchmark numbers in the documentation, generated from the committed results.

Every benchmark number quoted in ``README.md`` and ``doc/**/*.rst`` lives in a
generated block::

    <!-- BEGIN bench:NAME -->        (README.md)
    ...
    <!-- END bench:NAME -->

    .. BEGIN bench:NAME              (reST: comment lines)

    ...

    .. END bench:NAME

``NAME`` is one of :data:`BLOCK_NAMES`.  :func:`update` rewrites the blocks'
contents from the results; :func:`check` regenerates them in memory and lists
every block whose text differs, every unknown or malformed marker, every
block whose results are missing, and every generated number quoted outside
a block (the idea of the HMA paper's ``check_paper_numbers.py``).

The results are one report, ``benchmarks/results/bench.json`` (written by
``python -m benchmarks``); the generated text names the file it came from.
Nothing to check is a failure, not a pass: a missing report, no documentation
file or no block at all is reported as a problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ._timing import RESULTS_DIR
from ._common import AUTO_TOLERANCE

__all__ = ["BLOCK_NAMES", "check", "doc_files", "load_results", "render", "update"]

REPO_ROOT = RESULTS_DIR.parent.parent
BENCH_JSON = RESULTS_DIR / "bench.json"

#: block name -> the results sections it is generated from
BLOCK_SECTIONS = {
    "kmeans": ("kmeans",),
    "kmeans-recovery": ("kmeans_recovery",),
    "permutation-calibration": ("calibration",),
    "permutation": ("permutation",),
    "hma": ("hma",),
    "auto": ("kmeans", "permutation", "hma"),
}
BLOCK_NAMES = tuple(BLOCK_SECTIONS)

REPORT_SECTIONS = ("kmeans", "permutation", "hma", "kmeans_recovery", "calibration")


# --- results ---------------------------------------------------------------------------


@dataclass
class Source:
    """One results section and where it came from."""

    section: dict
    machine: dict
    path: Path
    script: str
    chart: str | None

    @property
    def file(self) -> str:
        """The results file as the docs name it: relative to the repository when inside it."""
        try:
            return self.path.resolve().relative_to(REPO_ROOT).as_posix()
        except ValueError:
            return self.path.as_posix()

    @property
    def cite(self) -> str:
        """The file in backticks, and the run's mode unless full: quick numbers are not the published ones."""
        mode = self.section.get("mode")
        return f"`{self.file}`" + ("" if mode in (None, "full") else f" ({mode} run)")


def _read(path):
    return json.loads(Path(path).read_text())


def load_results(path=None) -> dict:
    """Section name -> :class:`Source`, from a report written by ``python -m benchmarks``.

    Parameters
    ----------
    path : path-like, optional
        The report; default ``benchmarks/results/bench.json``.

    Raises
    ------
    FileNotFoundError
        If the report does not exist: there is then nothing to check against.
    ValueError
        If the file is not such a report.
    """
    path = Path(path) if path is not None else BENCH_JSON
    if not path.exists():
        raise FileNotFoundError(f"{path}: no benchmark report (run python -m benchmarks)")
    document = _read(path)
    if document.get("benchmark") != "bench":
        raise ValueError(f"{path}: not a report of python -m benchmarks")
    charts = document.get("charts", {})
    # each section names the machine it ran on (a report may merge runs)
    return {name: Source(document[name], document[name].get("machine") or document["machine"],
                         path, "python -m benchmarks",
                         charts.get(name))
            for name in REPORT_SECTIONS if name in document}


# --- generated text: paragraphs and tables, rendered as Markdown or reST ----------------


@dataclass
class Table:
    headers: list
    rows: list


class MissingData(LookupError):
    """A block's results are absent or lack a field its text needs."""


def _machine_words(machine):
    blas = machine["blas"][0] if machine.get("blas") else {}
    api = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}.get(
        blas.get("internal_api"), blas.get("internal_api") or "BLAS")
    return machine["cores"], machine.get("processor", "?"), api, blas.get("version"), blas.get("architecture")


def _minus(value, fmt):
    """A number with a typographic minus sign."""
    return format(value, fmt).replace("-", "\u2212")


def _g3(value):
    return f"{value:.3g}"


def _kmeans(sources):
    src = sources["kmeans"]
    s = src.section
    cores, cpu, api, version, arch = _machine_words(src.machine)
    chart = f", chart `{src.chart}`" if src.chart else ""
    parts = [
        f"Measured on {cores} cores ({cpu}), {api} {version} kernel {arch}, float64 GEMM peak "
        f"{s['gemm_peak_gflops']:.0f} GFLOP/s; ms per Lloyd iteration, median of warm fits from "
        f"the same k-means++ centres, after the equivalence gate (`{src.script}`, "
        f"{src.cite}{chart}).",
    ]
    engines = [r["name"] for r in s["shapes"][0]["rows"] if r["name"] != "auto"]
    rows = []
    for res in s["shapes"]:
        by = {r["name"]: r for r in res["rows"]}
        n, d, k = res["shape"]
        auto = by["auto"]
        rows.append([f"{n:,}, {d}, {k}"]
                    + [f"{by[e]['ms_per_iter']:.1f}" if e in by else "-" for e in engines]
                    + [f"{auto['ms_per_iter']:.1f} ({auto['engine']})",
                       f"**{auto['speedup_vs_sklearn_lloyd']:.2f}x**"])
    parts.append(Table(["N, d, K"] + engines + ["auto (engine)", "auto speed-up"], rows))
    summary = s["summary"]
    same = all(r["labels_equal_sklearn_lloyd"] for res in s["shapes"] for r in res["rows"])
    iters = sorted({res["max_iter"] for res in s["shapes"]}, reverse=True)
    at_most = (f"at most {iters[0]} iterations" if len(iters) == 1 else
               f"at most {iters[0]} iterations ({', '.join(map(str, iters[1:]))} on the largest shape)")
    parts.append(
        f"`engine=\"auto\"` vs sklearn lloyd: geometric mean "
        f"**{summary['auto_speedup_geomean']:.2f}x**, minimum {summary['auto_speedup_min']:.2f}x"
        + (", identical labels on every shape." if same else "; labels differ on some shape!")
        + f" Every run starts from the same k-means++ centres with `tol=0` and {at_most}, "
        f"stopping early on strict convergence as sklearn does, so fixed set-up costs count too.")
    return parts


def _recovery(sources):
    src = sources["kmeans_recovery"]
    s = src.section
    parts = [f"Adjusted Rand index of `FastKMeans` (`n_init={s['n_init']}`) against the true "
             f"clusters, {s['n_samples']} points, {s['n_clusters']} clusters, {len(s['seeds'])} "
             f"seeds (`{src.script}`, {src.cite}):",
             Table(["scenario", "mean ARI", "min ARI"],
                   [[r["scenario"], f"{r['ari_mean']:.3f}", f"{r['ari_min']:.3f}"]
                    for r in s["rows"]])]
    return parts


def _calibration(sources):
    src = sources["calibration"]
    s = src.section
    null, fwer, power = s["null"], s["maxT"], s["power"]
    conf = f"{100 * s['confidence']:.0f}%"
    yes = {True: "yes", False: "**no**"}

    def band(values, fmt):
        return f"{values[0]:{fmt}} to {values[1]:{fmt}}"

    def power_table(rows):
        return Table(["effect (sd)", "rejected", "t-test power", f"{conf} band", "in band"],
                     [[f"{r['effect']:.2f}", f"{r['power']:.3f}", f"{r['t_test_power']:.3f}",
                       band(r["band"], ".3f"), yes[r["in_band"]]] for r in rows])

    parts = [
        f"`PermutationTest` (`engine=\"auto\"`, fixed seeds) on simulated data whose answer is "
        f"known (`{src.script}`, {src.cite}). Null calibration: the share of "
        f"{null['n_features']:,} null features rejected at `alpha = {s['alpha']}`, n = "
        f"{null['n_samples']}, R = {null['n_permutations']:,}, with the {conf} binomial band for "
        f"{null['n_features']:,} features and the Kolmogorov-Smirnov p-value of the p-values "
        f"against the uniform law:",
        Table(["statistic", "noise", "groups", "rejected", f"{conf} band", "KS p", "in band"],
              [[f"`{r['statistic']}`", r["distribution"], f"{r['n_group1']}/{r['n_group0']}",
                f"{r['rejection_rate']:.4f}", band(r["band"], ".4f"), f"{r['ks_pvalue']:.3f}",
                yes[r["in_band"]]] for r in null["rows"]]),
        f"`correction=\"maxT\"`: family-wise error rate (any of {fwer['n_features']} null "
        f"features rejected) over {fwer['n_sets']:,} null data sets, n = {fwer['n_samples']}, "
        f"R = {fwer['n_permutations']:,}, and the rate without correction:",
        Table(["statistic", "noise", "FWER, maxT", f"{conf} band", "FWER, uncorrected",
               "in band"],
              [[f"`{r['statistic']}`", r["distribution"], f"{r['fwer']:.3f}",
                band(r["band"], ".3f"), f"{r['fwer_uncorrected']:.3f}", yes[r["in_band"]]]
               for r in fwer["rows"]]),
        f"Power: the share of {power['n_features']:,} features shifted by `effect` noise "
        f"standard deviations that are rejected (`{power['statistic']}`, {power['distribution']} "
        f"noise, {power['n_group1']}/{power['n_samples'] - power['n_group1']}, R = "
        f"{power['n_permutations']:,}, the same noise for every effect), against the power of "
        f"the two-sample t-test:",
        power_table(power["rows"]),
    ]
    flips = s.get("sign_flip")
    if flips:
        fnull, ffwer, fpower = flips["null"], flips["maxT"], flips["power"]
        parts += [
            f"Sign flips (`design=\"one_sample\"`, n = {flips['n_samples']}, symmetric noise): "
            f"the share of {fnull['n_features']:,} null features rejected, R = "
            f"{fnull['n_permutations']:,}:",
            Table(["statistic", "noise", "rejected", f"{conf} band", "KS p", "in band"],
                  [[f"`{r['statistic']}`", r["distribution"], f"{r['rejection_rate']:.4f}",
                    band(r["band"], ".4f"), f"{r['ks_pvalue']:.3f}", yes[r["in_band"]]]
                   for r in fnull["rows"]]),
            f"Sign flips, `statistic=\"t\", correction=\"maxT\"` (mne's max-t): family-wise "
            f"error over {ffwer['n_sets']:,} null data sets of {ffwer['n_features']} features, "
            f"R = {ffwer['n_permutations']:,}:",
            Table(["noise", "FWER, max-t", f"{conf} band", "FWER, uncorrected", "in band"],
                  [[r["distribution"], f"{r['fwer']:.3f}", band(r["band"], ".3f"),
                    f"{r['fwer_uncorrected']:.3f}", yes[r["in_band"]]] for r in ffwer["rows"]]),
            f"Sign flips, power of `t` ({fpower['n_features']:,} features with mean `effect` "
            f"sds, normal noise, R = {fpower['n_permutations']:,}) against the power of the "
            f"one-sample t-test:",
            power_table(fpower["rows"]),
        ]
    summary = s["summary"]
    rising = summary["power_rising"] and summary.get("sign_flip_power_rising", True)
    parts.append(f"**{summary['n_in_band']} of {summary['n_entries']}** entries inside their "
                 f"{conf} band; power "
                 + ("rises with the effect." if rising
                    else "does **not** rise with the effect!"))
    return parts


def _permutation(sources):
    src = sources["permutation"]
    s = src.section
    cores, _, api, _, arch = _machine_words(src.machine)
    gate, h, g = s["gate"], s["headline_vs_scipy"], s["headline_gemm"]
    ours = h["skfast_numpy_wall_s"]
    best_batch = min(h["scipy_batch_s"].values())
    parts = [
        f"Gate first: {len(gate['engines'])} engines against the reference loop, max |p "
        f"difference| {gate['max_abs_p_diff']:g}, max statistic difference "
        f"{gate['max_rel_stat_diff']:.2g} relative. Then, at n = {h['n_samples']:,}, "
        f"p = {h['n_features']:,}, R = {h['n_permutations']:,} (`{src.script}`, {src.cite}, "
        f"{cores} cores, {api} kernel {arch}):",
        Table(["run", "wall (s)", "skfast speed-up"], [
            ["skfast, numpy engine (median)", _g3(ours), "-"],
            ["`scipy.stats.permutation_test` (vectorized)", _g3(h["scipy_default_s"]),
             f"**{h['speedup_vs_scipy_default']:.0f}x**"],
            ["`scipy.stats.permutation_test`, best `batch`", _g3(best_batch),
             f"{h['speedup_vs_scipy_best_batch']:.0f}x"],
            ["`scipy.stats.ttest_ind(method=PermutationMethod)` vs `statistic=\"welch_t\"`",
             _g3(h["scipy_ttest_ind_welch_s"]), f"{h['speedup_welch_vs_ttest_ind']:.0f}x"],
        ]),
    ]
    memory = f"Peak extra memory: {h['skfast_numpy_peak_extra_mib']:.0f} MiB for skfast (bounded by the batch)"
    if h.get("scipy_default_peak_extra_mib") is not None:
        memory += f", {h['scipy_default_peak_extra_mib'] / 1024:.1f} GiB for scipy"
    target = s.get("targets", {}).get("fraction_target")
    parts.append(
        memory + f". At n = {g['n_samples']:,}, p = {g['n_features']:,}, R = "
        f"{g['n_permutations']:,} the numpy engine sustains {g['gflops_median']:.1f} GFLOP/s, "
        f"**{100 * g['fraction_of_peak_median']:.0f}%** of this machine's float64 GEMM peak "
        f"measured around it" + (f" (target {100 * target:.0f}%)" if target else "")
        + ("" if "fraction_of_float32_peak_median" not in g else
           f"; its products run in float32, checked to float64, at "
           f"{100 * g['fraction_of_float32_peak_median']:.0f}% of the float32 peak") + ".")
    by_p = {}
    for cell in s["grid"]["cells"]:
        by_p.setdefault(cell["n_features"], []).append(cell["winner"])
    winners = "; ".join(f"p = {p:,}: {' / '.join(dict.fromkeys(w))}" for p, w in by_p.items())
    chart = f" (`{src.chart}`)" if src.chart else ""
    parts.append(f"The decision map{chart} shows the fastest warm engine per (p, R) at "
                 f"n = {s['grid']['n_samples']}, over R = "
                 f"{', '.join(f'{r:,}' for r in s['grid']['permutations'])}: {winners}.")
    return parts


def _hma(sources):
    src = sources["hma"]
    s = src.section
    cores, _, api, _, arch = _machine_words(src.machine)
    w, fp = s["workload"], s["fingerprint_L6"]
    repeats = sorted({r["repeats"] for r in s["ladder"][1:]})
    m0 = s["ladder"][0]
    m0_runs = "once" if m0["repeats"] == 1 else f"best of {m0['repeats']}"
    parts = [
        f"{w['n_combos']} lengths, {w['n_bars']:,} bars: M0 measured {m0_runs} in full, "
        f"best of {'/'.join(map(str, repeats))} for the others, compilation excluded "
        f"(`{src.script}`, {src.cite}, {cores} cores, {api} kernel {arch}). The L = 6 "
        f"fingerprint: PnL {_minus(fp['pnl'], '.2f')} over {fp['n_trades']:,} trades.",
        Table(["Rung", "Implementation", "Wall (s)", "Speed-up vs M0", "Combos/s", "Parallelism"],
              [[r["rung"], r["implementation"], _g3(r["wall_s"]), f"{r['speedup']:.1f}x",
                f"{r['combos_per_s']:.1f}", r["parallelism"]] for r in s["ladder"]]),
    ]
    best = max((r for r in s["ladder"] if r["rung"] != "best, warm cache"),
               key=lambda r: r["combos_per_s"])
    from .hma import PAPER_BEST_COMBOS_PER_S

    text = (f"The best cold rung ({best['rung']}, engine `{best['engine']}`) runs the "
            f"{w['n_combos']} combos in {best['wall_s']:.2g} s: {best['speedup']:.0f}x M0 and "
            f"{best['combos_per_s']:.0f} combos/s, against the paper's best of "
            f"{PAPER_BEST_COMBOS_PER_S} combos/s on 12 cores.")
    if "ladder_auto" in s:
        a = s["ladder_auto"]
        text += (f" `engine=\"auto\"` ({a['engine']}) on the same workload: {a['wall_s']:.2g} s, "
                 f"{a['combos_per_s']:.0f} combos/s.")
    parts.append(text)
    return parts


def _auto(sources):
    from . import hma, kmeans, permutation

    modules = {"kmeans": kmeans, "permutation": permutation, "hma": hma}
    names = {"kmeans": "FastKMeans", "permutation": "PermutationTest", "hma": "HMASweep"}
    entries, files = [], []
    for name, module in modules.items():
        src = sources[name]
        entries += module.auto_vs_fastest(src.section)
        if src.cite not in files:
            files.append(src.cite)
    if not entries:
        raise MissingData("no auto timings")
    ok = sum(e["within_tolerance"] for e in entries)
    worst = max(entries, key=lambda e: e["ratio"])
    untimed = any(not e["auto_timed"] for e in entries)
    rows = [[names[e["estimator"]], e["shape_label"], e["auto_engine"], e["fastest_engine"],
             _g3(e["auto_s"]), _g3(e["fastest_s"]),
             f"{e['ratio']:.2f}" + ("" if e["auto_timed"] else "*")
             + ("" if e["within_tolerance"] else " (over)")] for e in entries]
    parts = [
        f"`engine=\"auto\"` against the fastest engine measured in the same run, on every shape "
        f"of the three benchmark grids ({', '.join(files)}): within "
        f"{100 * (AUTO_TOLERANCE - 1):.0f}% on **{ok} of {len(entries)}** shapes, worst ratio "
        f"{worst['ratio']:.2f} ({names[worst['estimator']]}, {worst['shape_label']}). "
        f"On the permutation grid, auto and the cell's fastest engine are timed alternately "
        f"and compared by the median of the paired ratios (auto's time shown is that ratio "
        f"times the fastest engine's median), since single runs drift with the machine's load.",
        Table(["estimator", "shape", "auto picks", "fastest", "auto (s)", "fastest (s)",
               "auto / fastest"], rows),
    ]
    if untimed:
        parts.append("\\* From results that predate the report: the time of the engine auto "
                     "picks (auto itself was not timed); `python -m benchmarks` times "
                     "`engine=\"auto\"` on every shape.")
    return parts


GENERATORS = {"kmeans": _kmeans, "kmeans-recovery": _recovery,
              "permutation-calibration": _calibration, "permutation": _permutation,
              "hma": _hma, "auto": _auto}


def _md(parts):
    out = []
    for part in parts:
        if isinstance(part, Table):
            lines = ["| " + " | ".join(part.headers) + " |",
                     "|" + "---|" * len(part.headers)]
            lines += ["| " + " | ".join(row) + " |" for row in part.rows]
            out.append("\n".join(lines))
        else:
            out.append(part)
    return "\n\n".join(out)


_CODE = re.compile(r"`([^`]+)`")
_LONE_STAR = re.compile(r"(?<![*\\])\*(?!\*)")


def _rst_inline(text):
    pieces = _CODE.split(text)  # even: prose, odd: code
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(f"``{piece}``")
        else:
            out.append(_LONE_STAR.sub(r"\\*", piece.replace("|", "\\|")))
    return "".join(out)


def _rst(parts):
    out = []
    for part in parts:
        if isinstance(part, Table):
            lines = [".. list-table::", "   :header-rows: 1", ""]
            for row in [part.headers] + part.rows:
                for j, cell in enumerate(row):
                    lines.append(("   * - " if j == 0 else "     - ") + _rst_inline(str(cell)))
            out.append("\n".join(lines))
        else:
            out.append(_rst_inline(part))
    return "\n\n".join(out)


def render(name, sources, fmt="md") -> str:
    """The text of block ``name`` (``fmt`` ``"md"`` or ``"rst"``) from ``sources``.

    Raises :class:`MissingData` when a section the block needs is absent or incomplete.
    """
    missing = [s for s in BLOCK_SECTIONS[name] if s not in sources]
    if missing:
        raise MissingData(f"no results for {', '.join(missing)}")
    try:
        parts = GENERATORS[name](sources)
    except (KeyError, IndexError, TypeError) as exc:
        raise MissingData(f"incomplete results ({type(exc).__name__}: {exc})") from exc
    return _md(parts) if fmt == "md" else _rst(parts)


# --- blocks in files ---------------------------------------------------------------------

_MD_BEGIN = re.compile(r"^<!-- BEGIN bench:(?P<name>\S+) -->\s*$")
_MD_END = re.compile(r"^<!-- END bench:(?P<name>\S+) -->\s*$")
_RST_BEGIN = re.compile(r"^(?P<indent>\s*)\.\. BEGIN bench:(?P<name>\S+)\s*$")
_RST_END = re.compile(r"^\s*\.\. END bench:(?P<name>\S+)\s*$")
_LOOSE = re.compile(r"\b(BEGIN|END)\s+bench:")


@dataclass
class Block:
    name: str
    begin: int  # line index of the BEGIN marker
    end: int    # line index of the END marker
    indent: str


def doc_files(root=None) -> list:
    """README.md and every reST page under doc/ (generated and ``_*`` folders excluded)."""
    root = Path(root) if root is not None else REPO_ROOT
    files = [root / "README.md"] if (root / "README.md").exists() else []
    skip = {"auto_examples", "gen_modules", "generated", "sg_execution_times.rst"}
    doc = root / "doc"
    if doc.is_dir():
        files += sorted(p for p in doc.rglob("*.rst")
                        if not any(part in skip or part.startswith("_")  # _build, _templates
                                   for part in p.relative_to(doc).parts))
    return files


def _fmt(path):
    return "rst" if Path(path).suffix == ".rst" else "md"


def parse_blocks(lines, fmt):
    """The blocks of a file and a list of marker problems."""
    begin_re, end_re = (_RST_BEGIN, _RST_END) if fmt == "rst" else (_MD_BEGIN, _MD_END)
    blocks, problems, open_block = [], [], None
    for i, line in enumerate(lines):
        begin, end = begin_re.match(line), end_re.match(line)
        if begin:
            if open_block is not None:
                problems.append((i, f"BEGIN bench:{begin['name']} inside the open block "
                                    f"bench:{open_block.name}"))
            indent = begin.groupdict().get("indent") or ""
            open_block = Block(begin["name"], i, -1, indent)
        elif end:
            if open_block is None or end["name"] != open_block.name:
                problems.append((i, f"END bench:{end['name']} without its BEGIN"))
            else:
                open_block.end = i
                blocks.append(open_block)
                open_block = None
        elif _LOOSE.search(line):
            problems.append((i, f"malformed bench marker {line.strip()!r} (expected "
                                + ("'.. BEGIN bench:NAME'" if fmt == "rst"
                                   else "'<!-- BEGIN bench:NAME -->'") + ")"))
    if open_block is not None:
        problems.append((open_block.begin, f"BEGIN bench:{open_block.name} never ends"))
    return blocks, problems


def _content(text, indent):
    body = [(indent + line) if line else "" for line in text.split("\n")]
    return [""] + body + [""]


# Numbers a reader would copy from a table: decimals (not versions such as
# 0.3.31) and speed-ups such as 270x.
_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+[x%]?|\d{3,}x)(?!\w|\.\d)")


def _numbers(text):
    """The distinctive numbers of ``text``: three significant digits or more (1.85x, 0.162,
    12.2, 270x), but not round ones (1.000): prose may say 1.5 or 1.0 for other reasons."""
    found = set()
    for token in _NUMBER.findall(text):
        digits = token.rstrip("x%").replace(".", "").lstrip("0")
        if len(digits) >= 3 and digits.rstrip("0") not in ("", "1"):
            found.add(token)
    return found


def _process(files, sources, write):
    """Check (and with ``write`` rewrite) the blocks of ``files``; return the problems."""
    problems, changed, generated, rendered = [], [], set(), {}
    for name in BLOCK_NAMES:
        try:
            rendered[name] = {fmt: render(name, sources, fmt) for fmt in ("md", "rst")}
            generated |= _numbers(rendered[name]["md"])
        except MissingData as exc:
            rendered[name] = exc
    for path in files:
        path = Path(path)
        fmt = _fmt(path)
        text = path.read_text()
        lines = text.split("\n")
        shown = _shown(path)
        blocks, marker_problems = parse_blocks(lines, fmt)
        problems += [f"{shown}:{i + 1}: {msg}" for i, msg in marker_problems]
        new_lines, cursor = [], 0
        inside = set()
        for block in blocks:
            inside.update(range(block.begin, block.end + 1))
            new_lines += lines[cursor:block.begin + 1]
            old = lines[block.begin + 1:block.end]
            result = rendered.get(block.name)
            if result is None:
                problems.append(f"{shown}:{block.begin + 1}: unknown block bench:{block.name} "
                                f"(known: {', '.join(BLOCK_NAMES)})")
                new_lines += old
            elif isinstance(result, MissingData):
                problems.append(f"{shown}:{block.begin + 1}: block bench:{block.name} has no "
                                f"data: {result}")
                new_lines += old
            else:
                new = _content(result[fmt], block.indent)
                if new != old:
                    if write:
                        changed.append(f"{shown}: bench:{block.name}")
                    else:
                        problems.append(f"{shown}:{block.begin + 1}: block bench:{block.name} "
                                        f"differs from the results ({_first_difference(old, new)})")
                new_lines += new
            cursor = block.end
        new_lines += lines[cursor:]
        for i, line in enumerate(lines):
            if i in inside:
                continue
            stray = sorted(_numbers(line) & generated)
            if stray:
                problems.append(f"{shown}:{i + 1}: benchmark number(s) {', '.join(stray)} quoted "
                                "outside a bench block")
        if write and new_lines != lines:
            path.write_text("\n".join(new_lines))
    return problems, changed


def _first_difference(old, new):
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            return f"line {i + 1} of the block: {a.strip()[:60]!r} -> {b.strip()[:60]!r}"
    return f"{len(old)} lines in the file, {len(new)} generated"


def _shown(path):
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def check(files=None, results=None) -> list:
    """Problems found in ``files`` (default :func:`doc_files`) against ``results``; empty if none.

    ``results`` is a path (see :func:`load_results`) or a ready mapping of
    sources; default: ``bench.json``.  No file, or files without a single
    block, is a problem: a check with nothing to check does not pass.
    """
    sources = results if isinstance(results, dict) else load_results(results)
    files = doc_files() if files is None else files
    if not files:
        return ["no documentation file to check (README.md, doc/*.rst): run from the checkout"]
    problems, _ = _process(files, sources, write=False)
    if not any(parse_blocks(Path(f).read_text().split("\n"), _fmt(f))[0] for f in files):
        problems.append(f"no bench block in {', '.join(_shown(f) for f in files)}")
    return problems


def update(files=None, results=None):
    """Rewrite every known block of ``files`` from ``results``; return (changed, problems).

    Blocks with an unknown name or without results are left as they are
    and reported among the problems.
    """
    sources = results if isinstance(results, dict) else load_results(results)
    problems, changed = _process(doc_files() if files is None else files, sources, write=True)
    problems = [p for p in problems if "differs from the results" not in p]
    return changed, problems
