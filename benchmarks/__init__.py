"""Kairos's benchmark suite: ``python -m benchmarks`` (or ``make benchmark``) prints JSON figures."""
