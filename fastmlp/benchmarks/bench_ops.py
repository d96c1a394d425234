"""Every case with bench sizes, each available backend side by side in one group per op and size.

    fastmlp bench -k bench_op          # each backend in its own process; JSON, tables, chart

With the default ``--benchmark-disable`` (pyproject addopts) each runs once as a plain test, and
each checks its result against the NumPy reference (conftest.verify).
"""

import pytest

from fastmlp.benchmarks.harness import BENCH_BACKENDS, contenders, prepared, verify
from fastmlp.cases import CASES

PARAMS = [
    pytest.param(case, rows, cols, id=f"{case.name}-{rows}x{cols}") for case in CASES for rows, cols in case.bench
]


@pytest.mark.parametrize("backend", contenders(BENCH_BACKENDS))
@pytest.mark.parametrize("case,rows,cols", PARAMS)
def bench_op(benchmark, case, rows, cols, backend):
    benchmark.group = f"{case.name} {rows}x{cols}"
    benchmark.extra_info.update(op=case.op, case=case.name, rows=rows, cols=cols, backend=backend)
    run = prepared(case, backend, rows, cols)
    verify(case, backend, rows, cols, benchmark(run))
