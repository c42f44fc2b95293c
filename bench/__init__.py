"""Benchmarks: `python -m bench [NAME ...] [--json PATH] [--records N] [--runs R]`.

Each benchmark is one module with `run(opts) -> list[Row]`; every figure is the median of
`runs` repetitions and comes with a baseline measured in the same run (the machine is noisy, so
only the ratio travels between machines).
"""
