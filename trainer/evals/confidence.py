"""How sure an accuracy is: the Wilson score interval of a proportion.

Two hundred examples at 25% carry a standard error of three points, so an accuracy alone cannot say
whether a model beats chance; its interval can. Wilson's interval (Wilson 1927; recommended over the
normal approximation by Brown, Cai and DasGupta 2001 and Newcombe 1998) stays inside [0, 1] and keeps
close to its nominal coverage for small counts and proportions near 0 or 1, where the textbook
p ± z·sqrt(p(1-p)/n) does not. Torch-free.
"""
from __future__ import annotations

import math
from statistics import NormalDist

LEVEL = 0.95


def wilson(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The two-sided Wilson score interval at `level` for `successes` out of `n` trials."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"expected 0 <= successes <= n and n > 0, got {successes} of {n}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
