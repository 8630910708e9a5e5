"""French business identifiers: SIREN (9 digits) and SIRET (14 digits) checks.

Both carry a Luhn key. La Poste is the known exception: its establishments share the SIREN
356 000 000 and their SIRETs are valid when the sum of their digits is a multiple of 5.
"""

from __future__ import annotations

LA_POSTE_SIREN = "356000000"


def luhn_valid(number: str) -> bool:
    """True when ``number`` (digits only) passes the Luhn check."""
    if not number or not number.isdigit():
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


def siren_valid(value: str | None) -> bool:
    """A 9-digit SIREN with a valid Luhn key."""
    return bool(value) and len(value) == 9 and luhn_valid(value)


def siret_valid(value: str | None) -> bool:
    """A 14-digit SIRET with valid keys (La Poste's rule for SIREN 356 000 000)."""
    if not value or len(value) != 14 or not value.isdigit():
        return False
    if value.startswith(LA_POSTE_SIREN):
        return sum(int(c) for c in value) % 5 == 0
    return luhn_valid(value)
