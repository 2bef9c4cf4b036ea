"""Beta densities that keep their digits at tens of millions of exposures.

Why not ``exp((a-1) log x + (b-1) log(1-x) - log B(a, b))``: at ``a + b = 10^7`` each of those
three terms is about ``10^6`` in size and the density is what is left after they cancel, so the
last ulp of each term (``~10^-10``) becomes a relative error of the density — measured at up to
``2.7e-8`` — and every integral built on it inherits that error.

Instead the density is written as a binomial probability, ``Beta(a, b).pdf(x) = (a + b - 1) *
Binomial(a - 1; a + b - 2, x)``, and that probability is computed with Catherine Loader's
saddle-point form (*Fast and accurate computation of binomial probabilities*, 2000; the form R's
``dbinom`` uses): ``stirlerr`` (the remainder of Stirling's series, small and exactly computable)
and ``bd0(k, np) = k log(k / np) + np - k`` (the deviance, summed as a series when ``k`` is near
``np`` so that nothing cancels). Nothing large is ever subtracted from anything large; the
relative error stays near ``1e-15`` whatever the counts (checked against mpmath at 50 digits in
``tests/analysis/test_exactness.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["beta_pdf", "stirlerr"]

_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LN_2PI = math.log(2.0 * math.pi)
# Stirling's series: stirlerr(n) = 1/(12n) - 1/(360n^3) + 1/(1260n^5) - 1/(1680n^7) + ...
_S0, _S1, _S2, _S3, _S4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
# Taylor coefficients of sum_{j>=1} v^(2j) / (2j + 1), highest first; |v| < 0.1: 9 terms
# reach 1e-18.
_BD0_TERMS = tuple(1.0 / (2 * j + 1) for j in range(9, 0, -1))


def stirlerr(n: float) -> float:
    """``log(n!) - log(sqrt(2 pi n) (n/e)^n)``, the error of Stirling's formula (n > 0)."""
    if n > 15.0:
        nn = n * n
        return (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / n
    # Small n: the terms are small too, so the direct form keeps ~15 digits.
    return math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - _LN_SQRT_2PI


def _bd0(k: float, d: NDArray[np.float64]) -> NDArray[np.float64]:
    """``k log(k / mean) + mean - k`` for ``mean = k - d``, without cancellation: Loader's series
    when ``mean`` is near ``k``, else ``-k log1p(-d / k) - d`` (both terms then of one sign).

    The series is cut at the number of terms the largest ``|v|`` needs for 1e-18 (9 at
    ``|v| = 0.1``, 4 at ``0.005``), and each branch is computed only where it is used."""
    v = d / (2.0 * k - d)
    near = np.abs(v) < 0.1
    out = np.empty_like(v)
    if near.any():
        vn = v if near.all() else v[near]
        dn = d if near.all() else d[near]
        v2 = vn * vn
        largest = float(v2.max())
        terms = 9 if largest == 0.0 else min(9, max(1, math.ceil(-18.0 / math.log10(largest))))
        poly = np.zeros_like(vn)
        for c in _BD0_TERMS[-terms:]:
            poly = (poly + c) * v2
        series = dn * vn + 2.0 * k * vn * poly
        if near.all():
            return series
        out[near] = series
    far = ~near
    with np.errstate(divide="ignore", invalid="ignore"):
        out[far] = -k * np.log1p(-d[far] / k) - d[far]
    return out


def _deviation(k: float, n: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``k - n x`` with ``n x`` carried exactly (Dekker's split of ``x``) when ``n < 2^26``:
    at ``n = 10^7`` a rounded product alone would cost ~1e-13 of the density's digits."""
    if n >= 2.0**26:
        return k - n * x
    t = x * 134217729.0  # 2^27 + 1
    hi = t - (t - x)
    return (k - n * hi) - n * (x - hi)


def beta_pdf(x: NDArray[np.float64], a: float, b: float) -> NDArray[np.float64]:
    """Density of ``Beta(a, b)`` (``a, b >= 1``) at points ``x`` strictly inside (0, 1)."""
    x = np.asarray(x, dtype=float)
    if a == 1.0 and b == 1.0:
        return np.ones_like(x)
    if a == 1.0:
        return b * np.exp((b - 1.0) * np.log1p(-x))
    if b == 1.0:
        return a * np.exp((a - 1.0) * np.log(x))
    n = a + b - 2.0
    k = a - 1.0
    m = b - 1.0
    const = (
        math.log(n + 1.0)
        + stirlerr(n)
        - stirlerr(k)
        - stirlerr(m)
        - 0.5 * (_LN_2PI + math.log(k) + math.log1p(-k / n))
    )
    d = _deviation(k, n, x)  # successes above their expectation; failures are off by -d
    return np.exp(const - _bd0(k, d) - _bd0(m, -d))
