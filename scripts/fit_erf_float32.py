"""Re-derive module 02's float32 erf coefficients: erf(z) ≈ z·P(z²)/Q(z²) on [0, 4], P and Q of degree 5.

Linear least squares on the relative error of z·P(u) − erf(z)·(Q(u) − 1) = erf(z) (u = z², Q(0) = 1),
re-weighted by the current Q a few dozen times (Loeb's iteration) so that the fitted quantity
approaches the true relative error of the ratio. Nodes are denser near 4, where erf flattens.
Prints the coefficients (lowest degree first; they agree with the ones in module 02 to about 12
digits, the rest is least-squares rounding) and the error of the package's float32 erf.

    python scripts/fit_erf_float32.py
"""

from __future__ import annotations

import math

import numpy as np


def fit(degree: int = 5, nodes: int = 20000, rounds: int = 30) -> tuple[np.ndarray, np.ndarray]:
    z = 4 * np.sin(np.linspace(0, np.pi / 2, nodes + 1)[1:])
    target = np.array([math.erf(v) for v in z])
    u = z * z
    powers = u[:, None] ** np.arange(degree + 1)
    weight = np.ones_like(z)
    for _ in range(rounds):
        system = np.concatenate([z[:, None] * powers, -target[:, None] * powers[:, 1:]], axis=1)
        scale = 1 / (target * weight)
        solution, *_ = np.linalg.lstsq(system * scale[:, None], target * scale, rcond=None)
        p, q = solution[:degree + 1], np.concatenate([[1.0], solution[degree + 1:]])
        weight = powers @ q
    return p, q


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tinytorch.core.activations import erf

    p, q = fit()
    print("P =", tuple(p.tolist()))
    print("Q =", tuple(q.tolist()))
    grid = np.linspace(-6, 6, 200001)
    reference = np.array([math.erf(v) for v in grid])
    worst = np.max(np.abs(erf(grid.astype(np.float32)).astype(np.float64) - reference))
    print(f"float32 erf (the package's coefficients): max abs error {worst:.2e} on [-6, 6]")


if __name__ == "__main__":
    main()
