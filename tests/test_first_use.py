"""First use: the import works on a read-only install for a user without a writable home."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import skfast

PACKAGE = Path(skfast.__file__).parent
SCRIPT = ("import warnings, numpy as np\n"
          "with warnings.catch_warnings(record=True) as caught:\n"
          "    warnings.simplefilter('always')\n"
          "    import skfast\n"
          "print(sum('numba cannot cache' in str(w.message) for w in caught))\n"
          "print(skfast.FastKMeans(3, engine='numpy', random_state=0)"
          ".fit(np.random.rand(200, 2)).engine_)\n")


def _read_only_copy(root):
    """skfast copied under ``root`` where numba can write no cache beside the sources.

    Each ``__pycache__`` is a plain file, so no directory can be made there,
    whoever runs it (root included, whom file modes do not stop).
    """
    target = root / "skfast"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [target, *[p for p in target.rglob("*") if p.is_dir()]]:
        (folder / "__pycache__").write_text("")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def _run(root, home, **popen):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300, **popen)


def test_import_works_without_a_writable_cache_location(tmp_path):
    _read_only_copy(tmp_path)
    home = tmp_path / "home-is-a-file"
    home.write_text("")  # no ~/.cache can be made under it
    result = _run(tmp_path, home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "numpy"]  # exactly one warning, and it fits


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="switching to the nobody user needs root")
def test_import_works_for_the_nobody_user():
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no nobody user")
    root = Path(tempfile.mkdtemp())
    try:
        _read_only_copy(root)
        try:
            probe = subprocess.run([sys.executable, "-c", "import numba, sklearn"],
                                   user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[],
                                   env={"HOME": "/nonexistent"}, capture_output=True, cwd=root)
            usable = probe.returncode == 0
        except PermissionError:
            usable = False
        if not usable:
            pytest.skip("the nobody user cannot run this interpreter (it lives in a private "
                        "home); the read-only test above covers the same locations")
        result = _run(root, "/nonexistent", user=nobody.pw_uid, group=nobody.pw_gid,
                      extra_groups=[])
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["1", "numpy"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
