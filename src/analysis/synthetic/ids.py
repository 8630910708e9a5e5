"""Identifiers that pass the checks real ones pass (SIREN / SIRET Luhn key)."""

from __future__ import annotations

import numpy as np

from ..identifiers import luhn_valid

__all__ = ["luhn_valid", "siret", "invalid_siret"]


def _complete(prefix: str) -> str:
    """Append the digit that makes ``prefix`` + digit pass the Luhn check."""
    for last in "0123456789":
        if luhn_valid(prefix + last):
            return prefix + last
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def siret(rng: np.random.Generator) -> str:
    """A random 14-digit SIRET whose SIREN (first 9 digits) and whole number pass Luhn."""
    siren = _complete("".join(str(d) for d in rng.integers(0, 10, 8)).replace("0", "1", 1))
    nic = "".join(str(d) for d in rng.integers(0, 10, 4))
    return _complete(siren + nic)


def invalid_siret(rng: np.random.Generator) -> str:
    """A SIRET-looking number that fails the checks: a wrong key, or 10 digits instead of 14."""
    good = siret(rng)
    if rng.random() < 0.5:
        return good[:10]
    last = (int(good[-1]) + 1 + int(rng.integers(0, 8))) % 10
    return good[:-1] + str(last)
