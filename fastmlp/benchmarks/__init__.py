"""The benchmark suites behind ``fastmlp bench``, shipped with the package so the command runs from
any directory after a plain install (``pip install "fastmlp[bench]"``); pytest-benchmark is the engine.

- ``bench_ops.py``: every op of the case table (``fastmlp.cases``) on each backend;
- ``bench_train_step.py``: the CIFAR-shaped training step and small nets against the notes' NumPy
  code, PyTorch, scikit-learn and the GEMM floor (``workloads.py``);
- ``bench_whitening.py``: whitening fits against the notes' recipe and scikit-learn;
- ``report.py``: tables (terminal, the README's markdown) and ``--compare``; ``chart.py``: the chart.

Every benchmark names its *contender* (``@pytest.mark.contender``); ``fastmlp bench`` runs each
contender in its own process, because the thread pools of NumPy's BLAS, Numba and PyTorch spin
against each other inside one. Run as plain tests (``--benchmark-disable``), each bench checks
what it timed against the NumPy reference.
"""
