"""Identifiers that pass the checks real ones pass (SIREN / SIRET Luhn key)."""

from __future__ import annotations

import numpy as np

from ..identifiers import luhn_valid

__all__ = ["luhn_valid", "siret", "invalid_siret"]

#: Luhn contribution of a digit that is doubled (2 d, minus 9 past 9).
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _check_digit(digits: list[int]) -> int:
    """The digit that makes ``digits`` + digit pass the Luhn check (the rightmost digit of the
    prefix is doubled, then every other one)."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        total += _DOUBLED[digit] if position % 2 == 0 else digit
    return -total % 10


def _complete(prefix: str) -> str:
    """Append the digit that makes ``prefix`` + digit pass the Luhn check."""
    return prefix + str(_check_digit([int(c) for c in prefix]))


def siret(rng: np.random.Generator) -> str:
    """A random 14-digit SIRET whose SIREN (first 9 digits) and whole number pass Luhn."""
    # Hot loop of the generator (one per contract): digits are kept as ints, the keys computed
    # directly; the draws and the result are those of the string version.
    siren = rng.integers(0, 10, 8).tolist()
    if 0 in siren:  # no SIREN starts with a zero run: the first 0 becomes a 1
        siren[siren.index(0)] = 1
    siren.append(_check_digit(siren))
    number = siren + rng.integers(0, 10, 4).tolist()
    number.append(_check_digit(number))
    return "".join(map(str, number))


def invalid_siret(rng: np.random.Generator) -> str:
    """A SIRET-looking number that fails the checks: a wrong key, or 10 digits instead of 14."""
    good = siret(rng)
    if rng.random() < 0.5:
        return good[:10]
    last = (int(good[-1]) + 1 + int(rng.integers(0, 8))) % 10
    return good[:-1] + str(last)
