"""What the three benchmarks share: modes, a progress bar, table rows and text tables.

Measurement itself (machine details, the GEMM peak, ``time_call``, writing a
results file) lives in :mod:`benchmarks._timing`; this module adds what the
``python -m benchmarks`` report needs on top of it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import tracemalloc
from pathlib import Path

from ._timing import _cpu_seconds, _jsonable

__all__ = [
    "MODES",
    "Progress",
    "auto_entry",
    "comparison_row",
    "format_table",
    "geomean",
    "timed_call",
    "write_document",
]

#: ``full`` gives the published numbers, ``quick`` a few minutes' pass and
#: ``smoke`` (hidden) tiny shapes that only check the machinery, in seconds.
MODES = ("full", "quick", "smoke")

#: ``engine="auto"`` counts as well chosen within this factor of the fastest engine.
AUTO_TOLERANCE = 1.10


def timed_call(fn):
    """Wall and CPU seconds of one call of ``fn()``, as ``(wall, cpu)``."""
    c0, t0 = _cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, _cpu_seconds() - c0


def write_document(document, path) -> Path:
    """Write ``document`` as indented JSON to ``path`` (atomically: a crash leaves the old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def peak_extra_mib(fn) -> float:
    """Largest memory block held at once by ``fn()`` beyond what existed before, in MiB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def plain_log_axis(axis, subs=(1.0,)):
    """Tick labels of a log axis as plain numbers (0.5, 2, 100), not 5x10^-1.

    ``subs``: the mantissas ticked in each decade; (1, 2, 5) for an axis
    spanning about one decade.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def auto_entry(estimator, shape, shape_label, auto_engine, auto_s, engine_seconds,
               auto_timed=True) -> dict:
    """One row of the "auto vs fastest" table.

    Parameters
    ----------
    estimator : str
        ``"kmeans"``, ``"permutation"`` or ``"hma"``.
    shape : dict
        The shape parameters, e.g. ``{"n_samples": ..., "n_features": ...}``.
    shape_label : str
        The shape as the tables print it.
    auto_engine : str
        The engine ``engine="auto"`` resolved to.
    auto_s : float
        Seconds of the ``engine="auto"`` call.
    engine_seconds : dict
        Engine (or configuration) name -> seconds, measured in the same run.
    auto_timed : bool
        False when ``auto_s`` is the time of the engine auto picks rather
        than of an ``engine="auto"`` call (results older than the report).
    """
    fastest = min(engine_seconds, key=engine_seconds.get)
    ratio = auto_s / engine_seconds[fastest]
    return {"estimator": estimator, "shape": shape, "shape_label": shape_label,
            "auto_engine": auto_engine, "auto_s": auto_s, "fastest_engine": fastest,
            "fastest_s": engine_seconds[fastest], "ratio": ratio,
            "within_tolerance": ratio <= AUTO_TOLERANCE, "auto_timed": auto_timed}


def comparison_row(shape, engine, wall_s, cpu_s=None, throughput=None, speedup=None,
                   gemm_fraction=None, compile_s=None) -> dict:
    """One row of an estimator's comparison table (missing values stay None)."""
    efficiency = cpu_s / wall_s if cpu_s is not None and wall_s else None
    return {"shape": shape, "engine": engine, "wall_s": wall_s, "cpu_s": cpu_s,
            "efficiency": efficiency, "throughput": throughput, "speedup": speedup,
            "gemm_fraction": gemm_fraction, "compile_s": compile_s}


def _seconds(value):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}" if value >= 1e-3 else f"{value:.2e}"


def _rate(value):
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value:.3g}"
    return f"{value:,.1f}" if value < 1e3 else f"{value:,.0f}"


def format_table(title, rows, throughput_unit, peer, gemm=True) -> str:
    """A fixed-width comparison table in the manner of PyMC's backend comparison.

    Columns: engine, shape, wall and CPU seconds, parallel efficiency (CPU /
    wall: how many cores were busy on average), throughput in the workload's
    unit, speed-up vs ``peer``, the fraction of the measured float64 GEMM peak
    (when ``gemm``) and the first call's extra seconds (JIT compilation).
    """
    headers = ["engine", "shape", "wall (s)", "CPU (s)", "CPU/wall", throughput_unit,
               f"vs {peer}"] + (["GEMM peak"] if gemm else []) + ["compile (s)"]
    body = []
    for r in rows:
        cells = [r["engine"], r["shape"], _seconds(r["wall_s"]), _seconds(r["cpu_s"]),
                 "-" if r["efficiency"] is None else f"{r['efficiency']:.2f}",
                 _rate(r["throughput"]),
                 "-" if r["speedup"] is None else f"{r['speedup']:.2f}x"]
        if gemm:
            cells.append("-" if r["gemm_fraction"] is None else f"{100 * r['gemm_fraction']:.1f}%")
        cells.append("-" if r["compile_s"] is None else f"{r['compile_s']:.2f}")
        body.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h)
              for i, h in enumerate(headers)]
    left = {0, 1}

    def line(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "=" * len(line(headers))
    out = [title, rule, line(headers), "-" * len(rule)]
    previous = None
    for r, cells in zip(rows, body):
        if previous is not None and r["shape"] != previous:
            out.append("")
        previous = r["shape"]
        out.append(line(cells))
    out.append(rule)
    return "\n".join(out)


def format_auto_table(entries) -> str:
    """The "auto vs fastest" table: one line per shape of the three grids."""
    headers = ["estimator", "shape", "auto picks", "fastest", "auto (s)", "fastest (s)",
               "auto/fastest", ""]
    body = [[e["estimator"], e["shape_label"], e["auto_engine"], e["fastest_engine"],
             _seconds(e["auto_s"]), _seconds(e["fastest_s"]), f"{e['ratio']:.2f}",
             ("ok" if e["within_tolerance"] else f"> {AUTO_TOLERANCE:.2f}")
             + ("" if e["auto_timed"] else " (auto's engine, not timed as auto)")]
            for e in entries]
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if i in (0, 1, 2, 3, 7) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "=" * len(line(headers))
    ok = sum(e["within_tolerance"] for e in entries)
    summary = (f"auto within {100 * (AUTO_TOLERANCE - 1):.0f}% of the fastest engine on {ok} of "
               f"{len(entries)} shapes" + (f"; worst ratio {max(e['ratio'] for e in entries):.2f}"
                                            if entries else ""))
    return "\n".join(["engine=\"auto\" vs the fastest engine of the same run", rule,
                      line(headers), "-" * len(rule), *map(line, body), rule, summary])


class Progress:
    """A one-line progress bar on stderr: section, step count, elapsed time, label.

    Silent when stderr is not a terminal (or ``enabled=False``); :meth:`log`
    then just prints.  No dependency: a carriage return redraws the line.
    """

    def __init__(self, enabled=None, stream=None, width=24):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width
        self.started = time.perf_counter()
        self.section_name, self.total, self.done, self.label = "", 0, 0, ""
        self._drawn = False

    def section(self, name, total):
        """Start counting ``total`` steps of the benchmark ``name``."""
        self.section_name, self.total, self.done, self.label = name, max(int(total), 1), 0, ""
        self._section_started = time.perf_counter()
        self.draw()

    def step(self, label=""):
        """Mark one step done; ``label`` names the step that starts next."""
        self.done = min(self.done + 1, self.total)
        self.label = label
        self.draw()

    def note(self, label):
        """Show what is running now without counting a step."""
        self.label = label
        self.draw()

    def draw(self):
        if not self.enabled:
            return
        filled = int(self.width * self.done / self.total) if self.total else 0
        elapsed = time.perf_counter() - self.started
        text = (f"\r[{self.section_name}] [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.done}/{self.total}  {_clock(elapsed)}  {self.label}")
        columns = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write(text[:columns].ljust(columns))
        self.stream.flush()
        self._drawn = True

    def clear(self):
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * (shutil.get_terminal_size((100, 20)).columns - 1) + "\r")
            self.stream.flush()
            self._drawn = False

    def log(self, *args, **kwargs):
        """``print`` without tearing the bar: clear it, print, redraw."""
        self.clear()
        print(*args, **kwargs, flush=True)
        self.draw()

    def close(self):
        self.clear()


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class NoProgress(Progress):
    """The bar of the single-benchmark scripts: nothing drawn, ``log`` prints."""

    def __init__(self):
        super().__init__(enabled=False)
