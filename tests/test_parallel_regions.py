"""Each ``parallel=True`` kernel opens one parallel region per call.

numba makes every array expression outside a kernel's ``prange`` loop a
parallel loop of its own, and each wakes the thread pool (40-100 us under
``OMP_WAIT_POLICY=PASSIVE``: the one-region rule of ``skfast._compile``).
This reads the sources, so it needs no compilation: outside the ``prange``
loops of a parallel kernel, no call may build or reduce an array.
"""

import ast
from pathlib import Path

import pytest

import skfast

# numpy functions and array methods that numba's parfor pass parallelises
_ARRAY_BUILDERS = {"zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange",
                   "ascontiguousarray", "copy", "where", "sqrt", "abs", "exp", "log"}
_REDUCTIONS = {"sum", "max", "min", "mean", "prod", "any", "all", "argmax", "argmin", "dot"}
_PACKAGE = Path(skfast.__file__).parent


def _is_parallel_kernel(function):
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and any(
                keyword.arg == "parallel" and getattr(keyword.value, "value", False)
                for keyword in decorator.keywords):
            return True
    return False


def _is_prange(loop):
    call = loop.iter
    if not isinstance(call, ast.Call):
        return False
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name == "prange"


def _outside_prange(node):
    """Nodes of ``node``'s body that run outside every ``prange`` loop."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.For) and _is_prange(child):
            continue
        yield child
        yield from _outside_prange(child)


def _array_call(node):
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    name = node.func.attr
    on_numpy = isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy")
    if name in _REDUCTIONS or (on_numpy and name in _ARRAY_BUILDERS):
        return name
    return None


def _violations():
    found = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not (isinstance(function, ast.FunctionDef) and _is_parallel_kernel(function)):
                continue
            for node in _outside_prange(function):
                name = _array_call(node)
                if name:
                    found.append(f"{path.relative_to(_PACKAGE)}:{node.lineno} "
                                 f"{function.name}: {name}")
    return found


def test_parallel_kernels_exist():
    # the check below is only worth something if it finds the kernels
    kernels = [function.name for path in _PACKAGE.rglob("*.py")
               for function in ast.walk(ast.parse(path.read_text()))
               if isinstance(function, ast.FunctionDef) and _is_parallel_kernel(function)]
    assert {"_fused_pass", "_lloyd_step", "_loosen_and_test", "_refresh_sums"} <= set(kernels)


def test_one_parallel_region_per_kernel():
    assert _violations() == []


@pytest.mark.parametrize("source, expected", [
    ("import numba, numpy as np\n@numba.njit(parallel=True)\ndef f(n):\n"
     "    a = np.zeros(n)\n    for i in numba.prange(n):\n        a[i] = np.zeros(2).sum()\n"
     "    return a.sum()\n", ["zeros", "sum"]),
    ("import numba, numpy as np\n@numba.njit(parallel=True)\ndef f(n):\n"
     "    a = np.empty(n)\n    for i in numba.prange(n):\n        a[i] = np.ones(3).max()\n"
     "    return a\n", []),
])
def test_the_check_reads_prange_bodies_as_exempt(source, expected):
    function = ast.parse(source).body[1]
    assert [name for node in _outside_prange(function) if (name := _array_call(node))] == expected
