"""Identifiers that pass the checks real ones pass (SIREN / SIRET Luhn key)."""

from __future__ import annotations

import numpy as np


def luhn_valid(number: str) -> bool:
    """True when ``number`` (digits only) passes the Luhn check used by SIREN and SIRET."""
    if not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


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
