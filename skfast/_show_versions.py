"""``skfast.show_versions()``: what a bug report or a benchmark needs to know."""

import os
import platform
import sys


def _engine_tables():
    """The engine table of every public estimator, by estimator name."""
    import skfast

    tables = {}
    for name in skfast.__all__:
        table = getattr(getattr(skfast, name), "_engine_table", None)
        if table is not None:
            tables[name] = table
    return tables


def machine_info() -> dict:
    """Cores, BLAS library and kernel, threading layers and package versions."""
    from threadpoolctl import threadpool_info

    from ._engines import cpu_count

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cores": cpu_count(),
        "blas": [
            {k: m.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
            for m in threadpool_info()
            if m.get("user_api") == "blas"
        ],
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS") if k in os.environ},
        "versions": {},
    }
    for pkg in ("skfast", "numpy", "scipy", "sklearn", "numba", "jax", "pandas", "joblib", "dask"):
        try:
            info["versions"][pkg] = __import__(pkg).__version__
        except ImportError:
            info["versions"][pkg] = None
    try:
        import numba

        info["numba_threading_layer"] = numba.config.THREADING_LAYER
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:  # pragma: no cover
        pass
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor()


def show_versions(file=None):
    """Print versions, cores, BLAS kernel, numba threading and available engines.

    Parameters
    ----------
    file : file-like, default=None
        Where to print; ``sys.stdout`` when None.

    Examples
    --------
    >>> import io, skfast
    >>> buffer = io.StringIO()
    >>> skfast.show_versions(file=buffer)
    >>> "FastKMeans" in buffer.getvalue()
    True
    """
    file = file or sys.stdout
    info = machine_info()
    print("skfast environment", file=file)
    print(f"  python          {info['python']} on {info['platform']}", file=file)
    print(f"  processor       {info['processor']}, {info['cores']} cores", file=file)
    for name, version in info["versions"].items():
        print(f"  {name:<15} {version or 'not installed'}", file=file)
    for blas in info["blas"]:
        print(f"  BLAS            {blas['internal_api']} {blas['version']}, kernel "
              f"{blas['architecture']}, {blas['num_threads']} threads "
              f"({blas['threading_layer']})", file=file)
    for key, value in info["env"].items():
        print(f"  {key:<15} {value}", file=file)
    print(f"  numba threads   {info.get('numba_threads')} "
          f"(threading layer setting: {info.get('numba_threading_layer')})", file=file)
    print("engines (installed / advertised)", file=file)
    for name, table in _engine_tables().items():
        installed = set(table.available())
        listed = ", ".join(e.name if e.name in installed else f"{e.name} [missing: skfast[{e.extra}]]"
                           for e in table.engines)
        print(f"  {name:<15} {listed}", file=file)
