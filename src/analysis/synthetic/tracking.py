"""A seeded synthetic export of the clause-tracking software, one per departmental coordination.

Each coordination of the région (Île-de-France's eight: 75, 77, 78, 91, 92, 93, 94, 95; another
région's départements, with the settings of :func:`setting`) exports its operations, its
participants (personal data: synthetic names and birth dates, which the readers must drop), their
work contracts and their situation six months after their last contract, in the layout of
``docs/input_formats.md``: four ``;``-delimited CSV files (two coordinations in UTF-8 with BOM, two
in Windows-1252) or one XLSX workbook with four sheets.

What is planted (all of it is written to the manifest):

* **volumes** — yearly insertion hours follow :data:`YEARLY_HOURS` (Île-de-France: 4.83 M in 2020,
  6.3 M in 2021, +9.7 % in 2022) split by :data:`DEPARTEMENT_SHARES`; the pathway model
  (:data:`PATHWAY`) is tuned so that 2021 has about 12 400 beneficiaries with about 1.5 contracts
  starting in the year each (pathways run across operations, employers and years), contracts
  average 2.5 months, and beneficiaries are 15 % women, 15 % QPV residents and 30 % young people
  under 26 without qualification (``../shared/domain.md`` section 3);
* **large projects** — the share of hours on operations flagged ``Grand projet`` follows
  :data:`GRAND_PROJECT_SHARE` (25 % in 2021, 30 % in 2022);
* **outcomes** — the time from the end of the last contract to the first durable job follows a
  proportional-hazards exponential model (:data:`BASELINE_RATE`, :data:`LOG_HAZARD_RATIOS`,
  :data:`DEPARTEMENT_LOG_HAZARD`), censored at the export date; the six-month situation is derived
  from it, so its exact model is a binomial GLM with complementary log-log link; the pseudo-true
  log odds ratios a logistic regression converges to are computed once on a large simulated sample;
* **defects** — negative hours, unknown diploma labels, orphan contracts, duplicated participants,
  invalid commune codes, inverted dates and operations whose hours do not add up, at the rates of
  :data:`DEFECTS` and at the exact counts the manifest states.

Work is done département by département from independent random streams
(``SeedSequence.spawn``), so memory stays bounded whatever the scale.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from .ids import siret
from .region import Region, profile

# --- Volumes -----------------------------------------------------------------------------------

#: Insertion hours realised in Île-de-France per calendar year (hours of a contract are spread
#: over its days: *pro rata temporis*), with the source of each figure.
YEARLY_HOURS: dict[int, tuple[float, str]] = {
    2019: (5_200_000, "assumption: no published regional figure; pre-covid level above 2020"),
    2020: (4_830_000, "published: 4.83 M hours (Banque des territoires; DRIEETS via ess2024.org)"),
    2021: (6_300_000, "published: 6.3 M hours (DRIEETS via ess2024.org; Le Moniteur)"),
    2022: (6_911_100, "published: regional hours +9.7 % on 2021 (Le Moniteur; republik-achats.fr)"),
    2023: (7_300_000, "assumption: continued growth (works for Grand Paris Express and the Games)"),
    2024: (7_800_000, "assumption: peak year (Games, Grand Paris Express)"),
    2025: (7_600_000, "assumption: slight fall after the Games"),
}

#: Share of the région's hours per coordination (sums to 1).
DEPARTEMENT_SHARES = {"75": 0.18, "77": 0.10, "78": 0.09, "91": 0.09, "92": 0.15, "93": 0.17,
                      "94": 0.13, "95": 0.09}

#: Share of hours on large projects (``Grand projet = Oui``) per year of contract start. A year's
#: prorated share mixes in contracts started the year before, so it lags a rise by about a point:
#: 2022 is set a little above the published 30 % for the prorated share to land near it.
GRAND_PROJECT_SHARE: dict[int, tuple[float, str]] = {
    2019: (0.22, "assumption"),
    2020: (0.27, "published: 1.3 M of 4.83 M hours on large projects (Banque des territoires)"),
    2021: (0.25, "published: 1.5 M hours, 25 % (DRIEETS via ess2024.org)"),
    2022: (0.315, "published: 2.1 M hours, 30 % (Le Moniteur); +1.5 pt for the lag"),
    2023: (0.31, "assumption"),
    2024: (0.30, "assumption"),
    2025: (0.27, "assumption"),
}

#: Relative weight of large projects per coordination (Grand Paris Express and Games sites are
#: mostly in 93, 94 and 92); normalised so that the région's share is the yearly one.
GRAND_PROJECT_WEIGHT = {"75": 0.6, "77": 0.5, "78": 0.5, "91": 0.8, "92": 1.2, "93": 1.6,
                        "94": 1.4, "95": 0.7}

#: One file format per coordination: (``csv`` with its encoding) or ``xlsx``.
FORMATS: dict[str, tuple[str, str | None]] = {
    "75": ("csv", "utf-8-sig"), "77": ("xlsx", None), "78": ("csv", "cp1252"),
    "91": ("xlsx", None), "92": ("csv", "utf-8-sig"), "93": ("xlsx", None),
    "94": ("csv", "cp1252"), "95": ("xlsx", None),
}

# --- Pathways and contracts --------------------------------------------------------------------

#: The pathway of a participant: ``1 + NegBin(shape, mean)`` contracts (at most ``max_contracts``),
#: the first starting 0-30 days after entry, each next one after a gap: short (1 + exponential,
#: mean ``short_gap_days``) or, with probability ``long_gap_share``, long (uniform in
#: ``long_gap_days``: pathways that resume the next year). Entries per year are solved from
#: :data:`YEARLY_HOURS`; the number of contracts and the gaps set beneficiaries per hour.
PATHWAY = {"extra_contracts_mean": 1.4, "extra_contracts_shape": 1.5, "max_contracts": 12,
           "first_delay_days": 30, "short_gap_days": 15.0, "long_gap_share": 0.12,
           "long_gap_days": (90, 300), "warmup_years": 3}

EMPLOYER_TYPES = ["Entreprise attributaire", "ETTI", "AI", "GEIQ", "EI", "Régie de quartier"]
#: Employer type of a pathway's first contract; each later contract is more often with the
#: contractor itself (+``ATTRIBUTAIRE_STEP`` per previous contract, up to three).
EMPLOYER_FIRST = [0.22, 0.36, 0.13, 0.09, 0.12, 0.08]
ATTRIBUTAIRE_STEP = 0.07

CONTRACT_TYPES = ["CDI", "CDD", "Intérim", "CDDI", "Contrat de professionnalisation",
                  "Apprentissage", "Contrat aidé"]
#: Contract type given the employer type (rows follow :data:`EMPLOYER_TYPES`).
CONTRACT_GIVEN_EMPLOYER = {
    "Entreprise attributaire": {"CDI": 0.17, "CDD": 0.58, "Contrat de professionnalisation": 0.12,
                                "Apprentissage": 0.07, "Contrat aidé": 0.06},
    "ETTI": {"Intérim": 1.0},
    "AI": {"CDD": 0.55, "CDDI": 0.45},
    "GEIQ": {"Contrat de professionnalisation": 0.8, "Apprentissage": 0.2},
    "EI": {"CDDI": 1.0},
    "Régie de quartier": {"CDDI": 1.0},
}
#: Mean duration in months of the part of a contract counted on the operation, by contract type
#: (gamma distributed, shape :data:`DURATION_SHAPE`); about 2.5 months overall.
CONTRACT_MONTHS = {"CDI": 3.6, "CDD": 2.3, "Intérim": 1.45, "CDDI": 2.9,
                   "Contrat de professionnalisation": 4.4, "Apprentissage": 4.8, "Contrat aidé": 3.6}
DURATION_SHAPE = 2.0
MIN_CONTRACT_DAYS = 5
#: Mean share of full time worked, by contract type (before a normal noise of sd 0.08, clipped
#: to [0.3, 1]). Near full time: 6.3 M hours for 12 400 beneficiaries is 508 h each, which with
#: 2.5-month contracts leaves room for about 1.5 contracts a year only if they are full time.
WORK_INTENSITY = {"CDI": 0.99, "CDD": 0.98, "Intérim": 0.99, "CDDI": 0.93,
                  "Contrat de professionnalisation": 0.92, "Apprentissage": 0.85,
                  "Contrat aidé": 0.90}
FULL_TIME_HOURS_PER_MONTH = 151.67
DAYS_PER_MONTH = 30.4375

# --- Participants ------------------------------------------------------------------------------

WOMEN_SHARE = 0.15
#: Age at entry: (share, first age, last age + 1).
AGE_GROUPS = {"moins_26": (0.40, 18, 26), "26_49": (0.47, 26, 50), "50_plus": (0.13, 50, 64)}
#: Share with a low diploma (no diploma or CAP/BEP level) among the young and the others:
#: 0.40 x 0.75 = 30 % young people under 26 without qualification.
LOW_DIPLOMA_SHARE = {"moins_26": 0.75, "autres": 0.58}
DIPLOMAS = ["Sans diplôme", "Niveau 3 (CAP, BEP)", "Niveau 4 (Bac)", "Niveau 5 (Bac+2)",
            "Niveau 6 (Licence)", "Niveau 7 (Master)", "Niveau 8 (Doctorat)"]
OLD_DIPLOMAS = ["Niveau VI", "Niveau V bis", "Niveau V", "Niveau IV", "Niveau III", "Niveau II",
                "Niveau I"]
LOW_DIPLOMA_LABELS = ["Sans diplôme", "Niveau 3 (CAP, BEP)", "Niveau VI", "Niveau V bis",
                      "Niveau V"]
#: Among low diplomas: share without any diploma; among the others: levels 4 to 8.
NO_DIPLOMA_SHARE = 0.45
HIGHER_DIPLOMA_SHARES = [0.55, 0.20, 0.13, 0.10, 0.02]
#: Share of records keyed with the pre-2019 nomenclature, by year of entry.
OLD_NOMENCLATURE_SHARE = {"before_2020": 0.6, "from_2020": 0.1}
#: QPV residence, relative by coordination, normalised to :data:`QPV_SHARE` overall.
QPV_SHARE = 0.15
QPV_RELATIVE = {"75": 0.12, "77": 0.10, "78": 0.10, "91": 0.13, "92": 0.10, "93": 0.26,
                "94": 0.16, "95": 0.17}
#: Share of participants living in their coordination's département (the others elsewhere in
#: Île-de-France); the commune is drawn by municipal population.
RESIDENCE_IN_DEPARTEMENT = 0.85
#: Qualifying training: base rate, and rate when the pathway holds a GEIQ, professionalisation
#: or apprenticeship contract.
TRAINING_SHARE = {"base": 0.14, "alternance": 0.55}

PUBLICS = ["Demandeur d'emploi de longue durée", "Allocataire du RSA",
           "Travailleur handicapé (RQTH)", "Jeune de moins de 26 ans peu qualifié",
           "Senior de plus de 50 ans", "Personne suivie par une SIAE", "Autre (avis motivé)"]
_PUBLIC_GENERAL = np.array([0.36, 0.30, 0.10, 0.0, 0.0, 0.17, 0.07])
PRESCRIPTEURS = ["France Travail", "Mission locale", "Cap emploi", "PLIE", "Conseil départemental",
                 "SIAE", "Maison de l'emploi"]
#: Prescriber given the eligibility category (rows follow :data:`PUBLICS`).
_PRESCRIBER_GIVEN_PUBLIC = np.array([
    [0.60, 0.00, 0.00, 0.25, 0.00, 0.00, 0.15],
    [0.30, 0.00, 0.00, 0.30, 0.40, 0.00, 0.00],
    [0.30, 0.00, 0.70, 0.00, 0.00, 0.00, 0.00],
    [0.10, 0.80, 0.00, 0.10, 0.00, 0.00, 0.00],
    [0.60, 0.00, 0.00, 0.30, 0.00, 0.00, 0.10],
    [0.00, 0.00, 0.00, 0.20, 0.00, 0.80, 0.00],
    [0.40, 0.10, 0.00, 0.20, 0.00, 0.00, 0.30],
])

# --- Outcomes (planted truth) ------------------------------------------------------------------

#: Baseline hazard of a first durable job, per month after the end of the last contract
#: (tuned so that about 35 % are in durable employment six months after the end).
BASELINE_RATE = 0.0388
#: Log hazard ratios of the covariates (see :data:`COVARIATES` for their definitions).
LOG_HAZARD_RATIOS = {"heures_100": 0.06, "formation_qualifiante": 0.55, "residence_qpv": -0.20,
                     "femme": -0.05, "moins_26": 0.15, "plus_50": -0.45, "diplome_faible": -0.30,
                     "dernier_employeur_attributaire": 0.35}
#: Département effects on the log hazard (reference: Paris).
DEPARTEMENT_LOG_HAZARD = {"75": 0.0, "77": -0.10, "78": 0.05, "91": -0.05, "92": 0.10,
                          "93": -0.10, "94": 0.05, "95": -0.05}
COVARIATES = {
    "heures_100": "total Heures réalisées of the participant's work contracts, in hundreds of hours",
    "formation_qualifiante": "Formation qualifiante = Oui",
    "residence_qpv": "Résident QPV = Oui",
    "femme": "Sexe = F",
    "moins_26": "under 26 at Date d'entrée (age in completed years from Date de naissance)",
    "plus_50": "50 or older at Date d'entrée",
    "diplome_faible": "Niveau de diplôme in " + ", ".join(LOW_DIPLOMA_LABELS),
    "dernier_employeur_attributaire": "the contract with the latest Date de fin has Type "
                                      "d'employeur = Entreprise attributaire",
    "departement": "the coordination (dummies, reference 75)",
}
#: The outcome clock counts months of 30.5 days, so that six months is exactly 183 days:
#: Date du premier emploi durable = Date de fin du dernier contrat + ceil(T x 30.5) days.
OUTCOME_MONTH_DAYS = 30.5
SIX_MONTHS_DAYS = 183
#: Situation at six months of those not in durable employment by then (shares sum to 1).
OTHER_SITUATIONS = {"Emploi de transition": 0.40, "Sortie positive": 0.15, "Sans emploi": 0.45}
#: Share of six-month situations masked as ``Inconnue``, completely at random.
UNKNOWN_RATE = 0.08
#: Size and seed of the simulated covariate sample used for the calibration kernel and the
#: pseudo-true logistic coefficients (independent of the generation seed).
PILOT_SIZE = 400_000
PILOT_SEED = 20260101

# --- Operations ----------------------------------------------------------------------------------

MODALITIES = {"Clause d'exécution (L2112-2)": 0.78, "Critère d'attribution (R2152-7)": 0.07,
              "Marché réservé SIAE (L2113-13)": 0.08, "Marché réservé EA/ESAT (L2113-12)": 0.02,
              "Marché d'insertion (R2123-1)": 0.05}
#: Sector of contracts outside large projects (large projects are all ``BTP``).
SECTORS = {"BTP": 0.52, "Propreté": 0.15, "Espaces verts": 0.10, "Services": 0.09,
           "Restauration": 0.05, "Logistique": 0.09}
#: Mean number of work contracts per operation (geometric), outside and on large projects.
OPERATION_SIZE = {"courante": 4.0, "grand_projet": 25.0}
#: Share of operations given the DECP uid of a contract with a social consideration of a buyer of
#: the département (the rest: empty); the realised share is lower where DECP has no candidate.
DECP_LINK_SHARE = 0.60
#: DECP sectors an operation of each sector can be linked to.
DECP_SECTORS = {"BTP": ["travaux"], "Propreté": ["nettoyage"], "Espaces verts": ["espaces_verts"],
                "Services": ["etudes", "informatique", "nettoyage"], "Restauration": ["fournitures"],
                "Logistique": ["fournitures"]}
#: ``Heures prévues`` = realised hours x a log-normal factor (median, sigma).
PLANNED_FACTOR = (1.08, 0.20)

#: ROME codes by sector: (code, job title, weight).
ROME = {
    "BTP": [("F1704", "Manœuvre BTP", 0.26), ("F1703", "Maçon", 0.16),
            ("F1701", "Coffreur-boiseur", 0.10), ("F1602", "Électricien du bâtiment", 0.09),
            ("F1603", "Plombier-chauffagiste", 0.07), ("F1606", "Peintre en bâtiment", 0.10),
            ("F1702", "Ouvrier de voirie", 0.10), ("F1705", "Canalisateur", 0.05),
            ("N1105", "Manutentionnaire de chantier", 0.07)],
    "Propreté": [("K2204", "Agent de propreté", 0.75), ("K2303", "Agent de propreté urbaine", 0.25)],
    "Espaces verts": [("A1203", "Jardinier espaces verts", 0.85),
                      ("K2303", "Agent d'entretien de la voirie", 0.15)],
    "Services": [("M1601", "Agent d'accueil", 0.35), ("K2503", "Agent de sécurité", 0.30),
                 ("K2204", "Agent d'entretien", 0.35)],
    "Restauration": [("G1602", "Commis de cuisine", 0.55),
                     ("G1603", "Employé polyvalent de restauration", 0.45)],
    "Logistique": [("N1103", "Magasinier", 0.45), ("N1105", "Manutentionnaire", 0.30),
                   ("N4105", "Chauffeur-livreur", 0.25)],
}

_LABELS = {
    "BTP": ["Construction de logements sociaux", "Réhabilitation de logements",
            "Construction d'un groupe scolaire", "Rénovation énergétique d'un collège",
            "Aménagement de voirie", "Construction d'un gymnase", "Extension d'une médiathèque",
            "Réhabilitation d'une résidence"],
    "Propreté": ["Nettoyage des locaux administratifs", "Nettoyage des parties communes",
                 "Propreté urbaine"],
    "Espaces verts": ["Entretien des espaces verts", "Aménagement paysager d'un parc",
                      "Entretien des berges"],
    "Services": ["Accueil et gardiennage", "Gestion des déchets", "Maintenance des bâtiments"],
    "Restauration": ["Restauration scolaire", "Restauration collective"],
    "Logistique": ["Déménagement des services", "Manutention et magasinage", "Livraison de repas"],
    "grand_projet": ["Grand Paris Express – gare", "Grand Paris Express – tunnel et ouvrages annexes",
                     "Village des athlètes – lot", "Site olympique – équipement",
                     "Prolongement de tramway"],
}
_ACTIVITY = {"BTP": ["Bâtiment", "Construction", "Travaux publics", "Rénovation", "Gros œuvre"],
             "Propreté": ["Propreté", "Nettoyage", "Services propreté"],
             "Espaces verts": ["Paysages", "Espaces verts", "Jardins"],
             "Services": ["Services", "Multiservices", "Accueil et sécurité"],
             "Restauration": ["Restauration", "Traiteur"],
             "Logistique": ["Logistique", "Transports", "Manutention"]}
_MAJORS = ["Groupement Tunnel Horizon", "Société Francilienne de Génie Civil",
           "Groupement Ligne Est Travaux", "Entreprise Générale du Bassin Parisien",
           "Groupement Souterrain Grand Paris", "Compagnie des Travaux d'Île-de-France",
           "Groupement Gares Nouvelles", "Société Nouvelle de Terrassement",
           "Groupement Viaduc et Ouvrages", "Bâtisseurs Associés du Grand Paris"]
_GRAND_OWNERS = [("Société des grands projets", 0.55), ("Solideo", 0.20),
                 ("Île-de-France Mobilités", 0.15), ("Grand Paris Aménagement", 0.10)]
#: Outside Île-de-France: large projects' owners (the région's own SIRET when its DECP buyer is
#: generated), contractors and operation labels, with no Grand Paris name.
_OTHER_GRAND_OWNERS = [("Région", 0.35), ("SNCF Réseau", 0.30),
                       ("Centre hospitalier universitaire", 0.20),
                       ("Établissement public foncier", 0.15)]
_OTHER_MAJORS = ["Groupement Ouvrages Horizon", "Société Régionale de Génie Civil",
                 "Groupement Travaux Ouest", "Entreprise Générale de Construction",
                 "Groupement Bâtiment Hospitalier", "Compagnie des Travaux Publics",
                 "Groupement Pôle d'Échanges", "Société Nouvelle de Terrassement",
                 "Groupement Viaduc et Ouvrages", "Bâtisseurs Associés"]
_OTHER_GRAND_LABELS = ["Grand projet – pôle d'échanges multimodal", "Grand projet – hôpital",
                       "Grand projet – lycée", "Grand projet – ligne ferroviaire",
                       "Grand projet – équipement sportif"]


@dataclass(frozen=True)
class Setting:
    """The per-coordination settings of a région (Île-de-France: the module constants).

    Outside Île-de-France: hours are shared by population, large projects weigh the same in
    every département, QPV residence is :data:`QPV_SHARE` everywhere, file formats and outcome
    effects are Île-de-France's given to the départements in code order (the first is the
    reference of the outcome effects).
    """

    departements: dict
    shares: dict
    grand_weight: dict
    formats: dict
    qpv_relative: dict
    hazard: dict
    reference: str
    grand_owners: list
    majors: list
    grand_labels: list
    region_name: str
    is_calibration: bool

    @property
    def deps(self) -> list[str]:
        return list(self.departements)

    def pilot_key(self) -> tuple:
        """What the pilot simulation depends on (hashable)."""
        return (tuple(self.deps), tuple(self.shares[d] for d in self.deps),
                tuple(self.qpv_relative[d] for d in self.deps),
                tuple(self.hazard[d] for d in self.deps))


def setting(region: Region | None = None) -> Setting:
    """The coordinations' settings of ``region`` (default: the one in force)."""
    region = region or profile()
    if region.is_calibration:
        return Setting(departements=region.departements, shares=DEPARTEMENT_SHARES,
                       grand_weight=GRAND_PROJECT_WEIGHT, formats=FORMATS,
                       qpv_relative=QPV_RELATIVE, hazard=DEPARTEMENT_LOG_HAZARD, reference="75",
                       grand_owners=_GRAND_OWNERS, majors=_MAJORS,
                       grand_labels=_LABELS["grand_projet"], region_name=region.name,
                       is_calibration=True)
    deps = list(region.departements)
    others = [v for d, v in DEPARTEMENT_LOG_HAZARD.items() if d != "75"]
    hazard = {d: (0.0 if i == 0 else others[(i - 1) % len(others)]) for i, d in enumerate(deps)}
    owners = [(f"Région {region.name}" if name == "Région" else
               f"{name} – {region.name}" if name != "SNCF Réseau" else name, w)
              for name, w in _OTHER_GRAND_OWNERS]
    return Setting(departements=region.departements, shares=region.population_shares(),
                   grand_weight={d: 1.0 for d in deps},
                   formats=region.cycle(list(FORMATS.values())),
                   qpv_relative={d: 1.0 for d in deps}, hazard=hazard, reference=deps[0],
                   grand_owners=owners, majors=_OTHER_MAJORS, grand_labels=_OTHER_GRAND_LABELS,
                   region_name=region.name, is_calibration=False)

# --- Names (synthetic: they stand for personal data) ---------------------------------------------

_FIRST_NAMES_M = ["Mohamed", "Karim", "Mamadou", "Youssef", "Kevin", "Thomas", "Nicolas", "Julien",
                  "Sébastien", "Alexandre", "Moussa", "Ibrahim", "Samir", "Mehdi", "Bilal", "Ousmane",
                  "David", "Christophe", "Jérôme", "Franck", "Anthony", "Dylan", "Lucas", "Hugo",
                  "Adama", "Amadou", "Rachid", "Nabil", "José", "Paulo", "Ahmed", "Yacine", "Cédric",
                  "Laurent", "Patrick", "Stéphane", "Sofiane", "Ismaël", "Théo", "Enzo"]
_FIRST_NAMES_F = ["Fatoumata", "Aminata", "Sarah", "Nadia", "Sandrine", "Isabelle", "Céline",
                  "Aïcha", "Fatima", "Karima", "Julie", "Laura", "Marie", "Camille", "Inès",
                  "Mariam", "Awa", "Samia", "Nathalie", "Valérie", "Sophie", "Émilie", "Leïla",
                  "Yasmine", "Hawa", "Kadiatou", "Sabrina", "Chloé", "Manon", "Océane"]
_LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
               "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
               "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
               "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Diallo", "Traoré", "Koné",
               "Cissé", "Camara", "Sylla", "Keita", "Touré", "Diarra", "Benali", "Haddad",
               "Boukhari", "Mansouri", "Belkacem", "Cherif", "Nguyen", "Tran", "Da Silva",
               "Ferreira", "Pereira", "Rodrigues", "Lopes", "Mendes", "Fernandes", "Gomes",
               "Dos Santos", "Kaya", "Yilmaz", "Öztürk", "Popescu", "Ionescu", "Lefèvre", "Faure",
               "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
               "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine",
               "Chevalier", "Robin", "Masson", "Sanchez", "Boyer", "Denis", "Lemaire", "Duval",
               "Joly", "Gautier", "Roger", "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier",
               "Jean", "Perez", "Marchand", "Dufour", "Blanchard", "Barbier", "Brun", "Dumas",
               "Brunet", "Schmitt", "Leroux", "Colin", "Fabre", "Moulin", "Ba", "Ndiaye", "Sow",
               "Fofana", "Doucouré", "Bamba", "Ouattara", "Kouassi", "Mbappé", "Mokrani",
               "Amrani", "Bouzid", "Hamdi", "Saidi", "Zerrouki"]

# --- Defects -------------------------------------------------------------------------------------

#: Defect rates (of contracts, participants or operations as stated); exact counts in the manifest.
#: The sets of rows carrying a defect are disjoint within a file, so each count is what a reader
#: finds in the written file.
DEFECTS = {
    "negative_hours": (0.002, "contracts", "Contrats row with negative Heures réalisées (sign "
                                           "error; its operation's Heures réalisées includes it)"),
    "end_before_start": (0.002, "contracts", "Contrats row whose Date de fin is before its Date "
                                             "de début"),
    "orphan_contract": (0.002, "contracts", "Contrats row whose Identifiant participant is absent "
                                            "from Participants"),
    "unknown_diploma": (0.005, "participants", "Participants row with the unknown Niveau de "
                                               "diplôme label 'Niveau ?'"),
    "invalid_commune": (0.003, "participants", "Participants row whose Commune de résidence is "
                                               "the invalid INSEE code '99999'"),
    "duplicate_participant": (0.003, "participants", "Participants row repeated as an exact copy "
                                                     "(right after the original)"),
    "operation_hours_mismatch": (0.02, "operations", "Opérations row (of 100 h or more) whose "
                                                     "Heures réalisées differs from the sum of its "
                                                     "Contrats rows' Heures réalisées by 3 % to "
                                                     "25 %; every other operation equals that sum "
                                                     "to the cent (negative rows included). A "
                                                     "reader that first sets aside the invalid "
                                                     "contracts (negative hours, inverted dates, "
                                                     "orphans) also sees the operations holding "
                                                     "them: see operations_with_invalid_contracts "
                                                     "and flagged_after_setting_invalid_contracts_"
                                                     "aside (gap > 1 h and > 1 %)"),
}
UNKNOWN_DIPLOMA = "Niveau ?"
INVALID_COMMUNE = "99999"
#: Orphan contracts point to participant numbers from here on (never used by real ids).
ORPHAN_ID_START = 900_000

# --- Headers (docs/input_formats.md) -------------------------------------------------------------

OPERATIONS_HEADERS = ["Code opération", "Libellé opération", "Maître d'ouvrage",
                      "SIRET maître d'ouvrage", "Identifiant marché DECP", "Modalité", "Secteur",
                      "Grand projet", "Département", "Commune", "Date de début", "Date de fin",
                      "Heures prévues", "Heures réalisées"]
PARTICIPANTS_HEADERS = ["Identifiant participant", "Nom", "Prénom", "Date de naissance", "Sexe",
                        "Niveau de diplôme", "Commune de résidence", "Résident QPV", "Public",
                        "Prescripteur", "Formation qualifiante", "Date d'entrée"]
CONTRACTS_HEADERS = ["Identifiant participant", "Code opération", "Employeur", "SIRET employeur",
                     "Type d'employeur", "Type de contrat", "Date de début", "Date de fin",
                     "Heures réalisées", "Code ROME", "Intitulé du poste"]
EXITS_HEADERS = ["Identifiant participant", "Date de fin du dernier contrat", "Situation à 6 mois",
                 "Date du premier emploi durable", "Date de l'export"]
SITUATIONS = ["Emploi durable", "Emploi de transition", "Sortie positive", "Sans emploi",
              "Inconnue"]
#: (CSV file name, XLSX sheet name, headers, date columns) of the four tables.
TABLES = {
    "operations": ("operations.csv", "Opérations", OPERATIONS_HEADERS,
                   ["Date de début", "Date de fin"]),
    "participants": ("participants.csv", "Participants", PARTICIPANTS_HEADERS,
                     ["Date de naissance", "Date d'entrée"]),
    "contracts": ("contrats.csv", "Contrats", CONTRACTS_HEADERS, ["Date de début", "Date de fin"]),
    "exits": ("sorties.csv", "Sorties", EXITS_HEADERS,
              ["Date de fin du dernier contrat", "Date du premier emploi durable",
               "Date de l'export"]),
}
#: Fixed workbook properties, so that the XLSX bytes do not depend on the clock.
XLSX_CREATED = datetime(2026, 1, 1)

_EPOCH = np.datetime64("1970-01-01", "D")
#: Day number standing for an empty date in the tables handed to the writers.
_NO_DATE = np.iinfo(np.int64).min
_EXCEL_EPOCH_OFFSET = 25569  # Excel serial number of 1970-01-01


# --- Small helpers -------------------------------------------------------------------------------


def _day(year: int, month: int = 1, day: int = 1) -> int:
    """Days since 1970-01-01 of a calendar date."""
    return int((np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D") - _EPOCH).astype(int))


def _lookup(table: dict[int, tuple[float, str]], year: int) -> float:
    """The value of ``year`` in a yearly table, clamped to its first and last years."""
    year = min(max(year, min(table)), max(table))
    return table[year][0]


def _categorical(rng: np.random.Generator, probs: np.ndarray, n: int | None = None) -> np.ndarray:
    """One draw per row of ``probs`` (rows sum to 1), or ``n`` draws from a single vector."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim == 1:
        cum = np.cumsum(probs / probs.sum())
        return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(probs) - 1)
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _exact_sample(rng: np.random.Generator, pool: np.ndarray, rate: float) -> np.ndarray:
    """A binomial number of distinct elements of ``pool`` (sorted)."""
    count = int(rng.binomial(len(pool), rate)) if len(pool) else 0
    return np.sort(rng.choice(pool, size=count, replace=False)) if count else pool[:0]


def _prorated(start: np.ndarray, end: np.ndarray, values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Part of ``values`` falling in the days ``[lo, hi)``, each spread evenly over its days."""
    overlap = np.clip(np.minimum(end + 1, hi) - np.maximum(start, lo), 0, None)
    return values * overlap / np.maximum(end - start + 1, 1)


def _contract_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contract-type matrix given employer, mean days and mean intensity by contract type."""
    matrix = np.array([[CONTRACT_GIVEN_EMPLOYER[e].get(c, 0.0) for c in CONTRACT_TYPES]
                       for e in EMPLOYER_TYPES])
    days = np.array([CONTRACT_MONTHS[c] * DAYS_PER_MONTH for c in CONTRACT_TYPES])
    intensity = np.array([WORK_INTENSITY[c] for c in CONTRACT_TYPES])
    return matrix, days, intensity


# --- The model: pathways, people, outcomes -------------------------------------------------------


def _pathways(rng: np.random.Generator, entry: np.ndarray) -> dict[str, np.ndarray]:
    """Work contracts of participants entering on days ``entry``; one array entry per contract."""
    n = len(entry)
    shape, mean = PATHWAY["extra_contracts_shape"], PATHWAY["extra_contracts_mean"]
    k = np.minimum(1 + rng.negative_binomial(shape, shape / (shape + mean), n),
                   PATHWAY["max_contracts"])
    total = int(k.sum())
    pid = np.repeat(np.arange(n), k)
    first = np.cumsum(k) - k
    j = np.arange(total) - first[pid]

    p_att = np.minimum(EMPLOYER_FIRST[0] + ATTRIBUTAIRE_STEP * np.minimum(j, 3), 0.9)
    rest = np.array(EMPLOYER_FIRST[1:]) / sum(EMPLOYER_FIRST[1:])
    employer = _categorical(rng, np.column_stack([p_att, (1 - p_att)[:, None] * rest]))
    matrix, mean_days, mean_intensity = _contract_tables()
    contract = _categorical(rng, matrix[employer])
    days = np.maximum(MIN_CONTRACT_DAYS, np.round(
        rng.gamma(DURATION_SHAPE, mean_days[contract] / DURATION_SHAPE))).astype(np.int64)
    long_gap = rng.random(total) < PATHWAY["long_gap_share"]
    lo, hi = PATHWAY["long_gap_days"]
    gap = np.where(long_gap, rng.integers(lo, hi + 1, total),
                   1 + np.floor(rng.exponential(PATHWAY["short_gap_days"], total))).astype(np.int64)
    delay = rng.integers(0, PATHWAY["first_delay_days"] + 1, total)
    increment = np.empty(total, dtype=np.int64)
    is_first = j == 0
    increment[is_first] = entry[pid[is_first]] + delay[is_first]
    later = np.flatnonzero(~is_first)
    increment[later] = days[later - 1] - 1 + gap[later]
    cumulative = np.cumsum(increment)
    start = cumulative - (cumulative[first] - increment[first])[pid]
    end = start + days - 1
    intensity = np.clip(mean_intensity[contract] + rng.normal(0, 0.08, total), 0.3, 1.0)
    hours = np.maximum(7.0, np.round(days / DAYS_PER_MONTH * FULL_TIME_HOURS_PER_MONTH
                                     * intensity * 2) / 2)
    return {"pid": pid, "rank": j, "employer": employer, "contract": contract, "start": start,
            "end": end, "hours": hours}


def _people(rng: np.random.Generator, dep_index: np.ndarray, entry_year: np.ndarray,
            alternance: np.ndarray, shares: tuple, qpv_relative: tuple) -> dict[str, np.ndarray]:
    """Modelling attributes of participants (sex, age, diploma, QPV, public, training);
    ``shares`` and ``qpv_relative`` are the coordinations' hours shares and relative QPV
    residence, in ``dep_index``'s order."""
    n = len(dep_index)
    woman = rng.random(n) < WOMEN_SHARE
    groups = list(AGE_GROUPS.values())
    group = _categorical(rng, [g[0] for g in groups], n)
    first_age = np.array([g[1] for g in groups])[group]
    span = np.array([g[2] - g[1] for g in groups])[group]
    age = first_age + np.floor(rng.random(n) * span).astype(int)
    low = rng.random(n) < np.where(group == 0, LOW_DIPLOMA_SHARE["moins_26"],
                                   LOW_DIPLOMA_SHARE["autres"])
    level = np.where(low, np.where(rng.random(n) < NO_DIPLOMA_SHARE, 0, 1),
                     2 + _categorical(rng, HIGHER_DIPLOMA_SHARES, n))
    old = rng.random(n) < np.where(entry_year < 2020, OLD_NOMENCLATURE_SHARE["before_2020"],
                                   OLD_NOMENCLATURE_SHARE["from_2020"])
    # Old labels: no diploma -> VI or V bis; 3 -> V; 4 -> IV; 5 -> III; 6 -> II; 7, 8 -> I.
    old_level = np.array([0, 2, 3, 4, 5, 6, 6])[level]
    old_level = np.where((level == 0) & (rng.random(n) < 0.4), 1, old_level)
    label = np.where(old, np.array(OLD_DIPLOMAS, dtype=object)[old_level],
                     np.array(DIPLOMAS, dtype=object)[level])
    weights = np.array(shares)
    relative = np.array(qpv_relative)
    qpv_rate = relative * QPV_SHARE / float(np.dot(weights, relative))
    qpv = rng.random(n) < qpv_rate[dep_index]
    training = rng.random(n) < np.where(alternance, TRAINING_SHARE["alternance"],
                                        TRAINING_SHARE["base"])

    young_low = (group == 0) & low
    general = _PUBLIC_GENERAL / _PUBLIC_GENERAL.sum()
    public_probs = np.tile(general, (n, 1))
    jeune = np.zeros(len(PUBLICS))
    jeune[3] = 1.0
    senior = np.zeros(len(PUBLICS))
    senior[4] = 1.0
    public_probs[young_low] = 0.7 * jeune + 0.3 * general
    public_probs[(group == 0) & ~low] = 0.3 * jeune + 0.7 * general
    public_probs[group == 2] = 0.55 * senior + 0.45 * general
    public = _categorical(rng, public_probs)
    prescriber = _categorical(rng, _PRESCRIBER_GIVEN_PUBLIC[public])
    return {"woman": woman, "age": age, "low": low, "diploma": label, "qpv": qpv,
            "training": training, "public": public, "prescriber": prescriber,
            "age_fraction": 0.02 + 0.96 * rng.random(n)}


def _covariates(people: dict[str, np.ndarray], total_hours: np.ndarray,
                last_attributaire: np.ndarray) -> dict[str, np.ndarray]:
    """The hazard model's covariates (see :data:`COVARIATES`)."""
    return {"heures_100": total_hours / 100.0,
            "formation_qualifiante": people["training"].astype(float),
            "residence_qpv": people["qpv"].astype(float),
            "femme": people["woman"].astype(float),
            "moins_26": (people["age"] < 26).astype(float),
            "plus_50": (people["age"] >= 50).astype(float),
            "diplome_faible": people["low"].astype(float),
            "dernier_employeur_attributaire": last_attributaire.astype(float)}


def _log_rate(covariates: dict[str, np.ndarray], dep_index: np.ndarray,
              hazard: tuple) -> np.ndarray:
    """Log hazard; ``hazard`` holds the département effects in ``dep_index``'s order."""
    eta = np.full(len(dep_index), math.log(BASELINE_RATE))
    for name, beta in LOG_HAZARD_RATIOS.items():
        eta += beta * covariates[name]
    return eta + np.array(hazard)[dep_index]


def _per_participant(paths: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, ...]:
    """Total hours, last end day, last employer and alternance flag per participant."""
    pid = paths["pid"]
    total_hours = np.bincount(pid, weights=paths["hours"], minlength=n)
    last_end = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last_end, pid, paths["end"])
    is_last = paths["end"] == last_end[pid]
    last_employer = np.zeros(n, dtype=np.int64)
    last_employer[pid[is_last]] = paths["employer"][is_last]
    alternance_contract = (paths["employer"] == EMPLOYER_TYPES.index("GEIQ")) | np.isin(
        paths["contract"], [CONTRACT_TYPES.index("Contrat de professionnalisation"),
                            CONTRACT_TYPES.index("Apprentissage")])
    alternance = np.bincount(pid, weights=alternance_contract, minlength=n) > 0
    return total_hours, last_end, last_employer, alternance


@functools.lru_cache(maxsize=4)
def _pilot(key: tuple) -> dict:
    """Simulate :data:`PILOT_SIZE` pathways (fixed seed) once per process and région
    (``key``: :meth:`Setting.pilot_key`).

    Returns the yearly kernel (hours, beneficiaries and contracts falling in the entry year and
    the next ones, per entrant), the realised six-month share, and the pseudo-true coefficients of
    a logistic regression of ``T <= 6`` on the covariates.
    """
    import statsmodels.api as sm

    rng = np.random.default_rng(PILOT_SEED)
    deps, shares, qpv_relative, hazard = key
    deps = list(deps)
    n = PILOT_SIZE
    dep_index = _categorical(rng, list(shares), n)
    entry = rng.integers(0, 365, n).astype(np.int64)
    paths = _pathways(rng, entry)
    total_hours, _, last_employer, alternance = _per_participant(paths, n)
    people = _people(rng, dep_index, np.full(n, 2021), alternance, shares, qpv_relative)
    cov = _covariates(people, total_hours, last_employer == 0)
    eta = _log_rate(cov, dep_index, hazard)
    p6 = -np.expm1(-6.0 * np.exp(eta))

    horizon = 6
    hours_kernel, benef_kernel, contract_kernel = [], [], []
    for k in range(horizon):
        lo, hi = 365 * k, 365 * (k + 1)
        hours_kernel.append(float(_prorated(paths["start"], paths["end"], paths["hours"], lo,
                                            hi).sum() / n))
        active = (paths["start"] < hi) & (paths["end"] >= lo)
        benef_kernel.append(float(np.unique(paths["pid"][active]).size / n))
        contract_kernel.append(float(active.sum() / n))

    names = list(LOG_HAZARD_RATIOS)
    columns = [cov[c] for c in names] + [(dep_index == i).astype(float) for i in range(1, len(deps))]
    design = sm.add_constant(np.column_stack(columns), prepend=True)
    fit = sm.Logit(p6, design).fit(disp=0, maxiter=50)
    labels = ["intercept"] + names + [f"departement_{d}" for d in deps[1:]]
    logit = {label: round(float(v), 4) for label, v in zip(labels, fit.params)}
    return {
        "hours": hours_kernel, "beneficiaries": benef_kernel, "contracts": contract_kernel,
        "contracts_per_entrant": float(len(paths["pid"]) / n),
        "mean_contract_months": float(((paths["end"] - paths["start"] + 1) / DAYS_PER_MONTH).mean()),
        "six_month_share": float(p6.mean()),
        "logit": logit,
    }


def _entry_rates(first_year: int, last_year: int, kernel: list[float]) -> dict[int, float]:
    """Entrants per year (région, scale 1) so that prorated hours match :data:`YEARLY_HOURS`.

    Entries start ``warmup_years`` before ``first_year``; before that the flow is taken as
    stationary. ``H(y) = sum_k N(y - k) kernel[k]`` is solved year by year.
    """
    warm = PATHWAY["warmup_years"]
    years = list(range(first_year - warm, last_year + 1))
    rates: dict[int, float] = {}
    stationary = _lookup(YEARLY_HOURS, years[0]) / sum(kernel)
    for year in years:
        carried = sum(rates.get(year - k, stationary) * kernel[k] for k in range(1, len(kernel)))
        rates[year] = max(0.0, (_lookup(YEARLY_HOURS, year) - carried) / kernel[0])
    return rates


# --- One coordination ---------------------------------------------------------------------------


class _Pools:
    """Names and SIRETs of employers and project owners, drawn once per coordination."""

    def __init__(self, rng: np.random.Generator, dep: str, communes: pd.DataFrame,
                 structures: pd.DataFrame, majors: list[tuple[str, str]],
                 grand_owners: list[tuple[str, str]], names: dict[str, str],
                 calibration: bool = True):
        self.rng = rng
        self.dep = dep
        self.majors = majors
        self.grand_owners = grand_owners
        self.structures = structures
        com = communes[communes["departement"] == dep].sort_values("population_municipale",
                                                                   ascending=False)
        biggest = com["nom"].tolist()[:6]
        dep_name = names[dep]
        owners = [f"Ville de {nom}" if dep != "75" else "Ville de Paris" for nom in biggest]
        owners = list(dict.fromkeys(owners))
        owners += [f"Département – {dep_name}", f"Office public de l'habitat – {dep_name}",
                   f"Habitat social {dep_name}", f"Centre hospitalier – {dep_name}"]
        if calibration and dep in {"92", "93", "94"}:
            owners.append(f"Établissement public territorial – {dep_name}")
        if not calibration and "epci_nom" in com.columns and com["epci_nom"].notna().any():
            # Outside Île-de-France: the EPCI of the département's largest commune.
            owners.append(str(com.loc[com["epci_nom"].notna(), "epci_nom"].iloc[0]))
        self.owners = [(name, siret(rng)) for name in owners]
        self.regies = [(f"Régie de quartier {nom}", siret(rng))
                       for nom in (biggest[:4] if dep != "75" else
                                   ["Paris 13e", "Paris 18e", "Paris 19e", "Paris 20e"])]

    def contractor_pool(self, sector: str, size: int) -> list[tuple[str, str]]:
        rng = self.rng
        forms = ["SAS", "SARL", "SA", "Entreprise", "Établissements"]
        pool = []
        for _ in range(max(3, size)):
            form = forms[int(rng.integers(len(forms)))]
            name = _LAST_NAMES[int(rng.integers(len(_LAST_NAMES)))]
            activity = _ACTIVITY[sector][int(rng.integers(len(_ACTIVITY[sector])))]
            pool.append((f"{form} {name} {activity}", siret(rng)))
        return pool

    def structures_of(self, kinds: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(names, SIRETs, is-local) of the structures of the given types."""
        s = self.structures[self.structures["type"].isin(kinds)]
        return (s["raison_sociale"].to_numpy(dtype=object), s["siret"].to_numpy(dtype=object),
                (s["departement"] == self.dep).to_numpy())


def _pick_structures(rng: np.random.Generator, n: int, names: np.ndarray, sirets: np.ndarray,
                     local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``n`` structures: from the coordination's département 85 % of the time when it has any."""
    local_idx = np.flatnonzero(local)
    choose_local = (rng.random(n) < 0.85) & (len(local_idx) > 0)
    idx = rng.integers(0, len(names), n)
    if len(local_idx):
        idx = np.where(choose_local, local_idx[rng.integers(0, len(local_idx), n)], idx)
    return names[idx], sirets[idx]


def _draw_communes(rng: np.random.Generator, table: pd.DataFrame, n: int) -> np.ndarray:
    weights = table["population_municipale"].to_numpy(dtype=float)
    return table["code_insee"].to_numpy(dtype=object)[_categorical(rng, weights, n)]


def _link_decp(rng: np.random.Generator, ops: pd.DataFrame, decp: pd.DataFrame,
               dep: str) -> np.ndarray:
    """Index into ``decp`` (or -1) for each operation, for about :data:`DECP_LINK_SHARE` of them."""
    result = np.full(len(ops), -1, dtype=np.int64)
    if decp.empty:
        return result
    mine = decp[(decp["departement"] == dep) & decp["social"].eq(True)]
    if mine.empty:
        return result
    wanted = rng.random(len(ops)) < DECP_LINK_SHARE
    u = rng.random(len(ops))
    v = rng.random(len(ops))
    day = mine["_day"].to_numpy()
    order = np.argsort(day, kind="stable")
    classes: dict[str, np.ndarray] = {}
    for sector, decp_sectors in DECP_SECTORS.items():
        classes[sector] = order[np.isin(mine["secteur"].to_numpy()[order], decp_sectors)]
    sgp = order[(mine["secteur"].to_numpy()[order] == "travaux")
                & (mine["acheteur_type"].to_numpy()[order] == "sgp")]
    classes["grand_projet"] = sgp if len(sgp) else classes["BTP"]
    key = np.where(ops["grand"].to_numpy(), "grand_projet", ops["sector"].to_numpy())
    start = ops["start"].to_numpy()
    for name, candidates in classes.items():
        rows = np.flatnonzero((key == name) & wanted)
        if not len(rows):
            continue
        if not len(candidates):
            candidates = order  # any contract of the département with a social consideration
        dates = day[candidates]
        hi = np.searchsorted(dates, start[rows], side="right")
        lo = np.searchsorted(dates, start[rows] - 3 * 365, side="left")
        count = hi - lo
        recent = lo + np.floor(u[rows] * count).astype(np.int64)
        anytime = np.floor(v[rows] * len(candidates)).astype(np.int64)
        pick = np.where(count > 0, recent, anytime)
        result[rows] = mine.index.to_numpy()[candidates[pick]]
    return result


def _departement(dep: str, rng: np.random.Generator, rates: dict[int, float], first_year: int,
                 last_year: int, scale: float, communes: pd.DataFrame, structures: pd.DataFrame,
                 decp: pd.DataFrame, export_day: int, majors: list[tuple[str, str]],
                 grand_owners: list[tuple[str, str]], where: Setting) -> dict:
    """Generate one coordination's four tables and its contribution to the manifest."""
    deps = where.deps
    d_index = deps.index(dep)
    share = where.shares[dep]

    # Entrants and pathways.
    entries = []
    for year, rate in rates.items():
        n = int(rng.poisson(rate * share * scale))
        lo, hi = _day(year), _day(year + 1)
        entries.append(rng.integers(lo, hi, n))
    entry_all = np.sort(np.concatenate(entries)).astype(np.int64)
    paths = _pathways(rng, entry_all)
    cutoff = min(_day(last_year, 12, 31), export_day)
    keep = (paths["end"] >= _day(first_year)) & (paths["start"] <= cutoff)
    paths = {k: v[keep] for k, v in paths.items()}
    kept_people, pid = np.unique(paths["pid"], return_inverse=True)
    paths["pid"] = pid
    entry = entry_all[kept_people]
    n_people = len(kept_people)
    n_contracts = len(pid)

    total_hours, last_end, last_employer, alternance = _per_participant(paths, n_people)
    entry_year = pd.to_datetime(entry, unit="D").year.to_numpy()
    dep_index = np.full(n_people, d_index)
    key = where.pilot_key()
    people = _people(rng, dep_index, entry_year, alternance, key[1], key[2])
    cov = _covariates(people, total_hours, last_employer == 0)

    # Outcomes: time to first durable job (months), censored at the export date.
    eta = _log_rate(cov, dep_index, key[3])
    months = rng.exponential(1.0, n_people) / np.exp(eta)
    durable_day = last_end + np.ceil(months * OUTCOME_MONTH_DAYS).astype(np.int64)
    followed = last_end + SIX_MONTHS_DAYS <= export_day
    other = np.array(list(OTHER_SITUATIONS), dtype=object)[
        _categorical(rng, list(OTHER_SITUATIONS.values()), n_people)]
    situation = np.where(months <= 6.0, "Emploi durable", other).astype(object)
    unknown = (rng.random(n_people) < UNKNOWN_RATE) & followed
    situation[unknown] = "Inconnue"

    # Contract attributes: large project, sector, job.
    start, end = paths["start"], paths["end"]
    start_year = pd.to_datetime(start, unit="D").year.to_numpy()
    norm = sum(where.shares[d] * where.grand_weight[d] for d in deps)
    p_grand = np.array([_lookup(GRAND_PROJECT_SHARE, int(y)) for y in range(
        int(start_year.min()), int(start_year.max()) + 1)]) * where.grand_weight[dep] / norm
    grand = rng.random(n_contracts) < np.minimum(p_grand[start_year - start_year.min()], 0.9)
    sector_names = list(SECTORS)
    sector = np.where(grand, 0, _categorical(rng, list(SECTORS.values()), n_contracts))
    rome_code = np.empty(n_contracts, dtype=object)
    rome_title = np.empty(n_contracts, dtype=object)
    for s_index, s_name in enumerate(sector_names):
        rows = np.flatnonzero(sector == s_index)
        jobs = ROME[s_name]
        pick = _categorical(rng, [w for _, _, w in jobs], len(rows))
        rome_code[rows] = np.array([c for c, _, _ in jobs], dtype=object)[pick]
        rome_title[rows] = np.array([t for _, t, _ in jobs], dtype=object)[pick]

    # Operations: contracts of the same kind (large project or not, sector), sorted by a jittered
    # start date, are cut into consecutive runs of geometric length.
    group = grand.astype(np.int64) * len(sector_names) + sector
    jitter = start + rng.normal(0, 45, n_contracts)
    order = np.lexsort((jitter, group))
    op_of = np.empty(n_contracts, dtype=np.int64)
    next_id = 0
    for g in np.unique(group):
        rows = order[group[order] == g]
        mean = OPERATION_SIZE["grand_projet" if g >= len(sector_names) else "courante"]
        sizes = rng.geometric(1 / mean, size=int(len(rows) / mean * 1.5) + 10)
        while sizes.sum() < len(rows):
            sizes = np.concatenate([sizes, rng.geometric(1 / mean, size=len(rows))])
        local = np.searchsorted(np.cumsum(sizes), np.arange(len(rows)), side="right")
        op_of[rows] = next_id + local
        next_id += int(local[-1]) + 1
    frame = pd.DataFrame({"op": op_of, "start": start, "end": end, "hours": paths["hours"],
                          "grand": grand, "sector": sector})
    ops = frame.groupby("op", sort=True).agg(start=("start", "min"), end=("end", "max"),
                                            hours=("hours", "sum"), grand=("grand", "first"),
                                            sector=("sector", "first"), size=("start", "size"))
    ops = ops.sort_values(["start", "end"], kind="stable")
    ops["number"] = np.arange(1, len(ops) + 1)
    op_number = ops["number"].reindex(np.arange(next_id)).to_numpy()
    ops = ops.reset_index(drop=True)
    ops["sector"] = np.array(sector_names, dtype=object)[ops["sector"].to_numpy()]
    n_ops = len(ops)
    width = max(5, len(str(n_ops)))
    ops["code"] = f"OP-{dep}-" + pd.Series(ops["number"]).astype(str).str.zfill(width).to_numpy()
    contract_op = op_number[op_of] - 1  # row index into ops

    modality_names = list(MODALITIES)
    modality = np.where(ops["grand"].to_numpy(), 0,
                        _categorical(rng, list(MODALITIES.values()), n_ops))
    ops["modality"] = np.array(modality_names, dtype=object)[modality]
    com = communes[communes["departement"] == dep]
    ops["commune"] = _draw_communes(rng, com, n_ops)
    names_by_code = dict(zip(communes["code_insee"], communes["nom"]))
    label_pick = rng.random(n_ops)
    labels = np.empty(n_ops, dtype=object)
    for key in list(SECTORS) + ["grand_projet"]:
        rows = np.flatnonzero(ops["grand"].to_numpy() if key == "grand_projet"
                              else (~ops["grand"].to_numpy()) & (ops["sector"].to_numpy() == key))
        choices = np.array(where.grand_labels if key == "grand_projet" else _LABELS[key],
                           dtype=object)
        labels[rows] = choices[np.floor(label_pick[rows] * len(choices)).astype(int)]
    ops["label"] = labels + " – " + pd.Series(ops["commune"]).map(names_by_code).to_numpy(dtype=object)
    ops["start_op"] = ops["start"] - rng.integers(0, 46, n_ops)
    ops["end_op"] = ops["end"] + rng.integers(0, 91, n_ops)

    pools = _Pools(rng, dep, communes, structures, majors, grand_owners, where.departements,
                   where.is_calibration)
    # Project owner: the DECP buyer when linked, else a local owner (large projects: their owners).
    link = _link_decp(rng, ops, decp, dep)
    linked = link >= 0
    owner = np.empty(n_ops, dtype=object)
    owner_siret = np.empty(n_ops, dtype=object)
    uid = np.full(n_ops, None, dtype=object)
    if linked.any():
        rows = decp.loc[link[linked]]
        owner[linked] = rows["acheteur_nom"].to_numpy(dtype=object)
        owner_siret[linked] = rows["acheteur_id"].astype(str).to_numpy(dtype=object)
        uid[linked] = rows["uid"].astype(str).to_numpy(dtype=object)
    local_owner = _categorical(rng, np.ones(len(pools.owners)), n_ops)
    big_owner = _categorical(rng, [w for _, w in where.grand_owners], n_ops)
    is_grand = ops["grand"].to_numpy()
    for rows, pool, pick in ((np.flatnonzero(~linked & ~is_grand), pools.owners, local_owner),
                             (np.flatnonzero(~linked & is_grand), grand_owners, big_owner)):
        owner[rows] = np.array([o for o, _ in pool], dtype=object)[pick[rows]]
        owner_siret[rows] = np.array([s for _, s in pool], dtype=object)[pick[rows]]

    # Contractor of each operation (the employer when Type d'employeur = Entreprise attributaire).
    contractor = np.empty(n_ops, dtype=object)
    contractor_siret = np.empty(n_ops, dtype=object)
    reserved = {"Marché réservé SIAE (L2113-13)": ["EI"], "Marché réservé EA/ESAT (L2113-12)": ["EA"],
                "Marché d'insertion (R2123-1)": ["ACI", "EI"]}
    handled = np.zeros(n_ops, dtype=bool)
    for modality_name, kinds in reserved.items():
        rows = np.flatnonzero((ops["modality"].to_numpy() == modality_name))
        names, sirets, local = pools.structures_of(kinds)
        if len(rows) and len(names):
            contractor[rows], contractor_siret[rows] = _pick_structures(rng, len(rows), names,
                                                                        sirets, local)
            handled[rows] = True
    rows = np.flatnonzero(is_grand & ~handled)
    pick = rng.integers(0, len(majors), len(rows))
    contractor[rows] = np.array([m for m, _ in majors], dtype=object)[pick]
    contractor_siret[rows] = np.array([s for _, s in majors], dtype=object)[pick]
    handled[rows] = True
    for s_name in sector_names:
        rows = np.flatnonzero(~handled & (ops["sector"].to_numpy() == s_name))
        if not len(rows):
            continue
        pool = pools.contractor_pool(s_name, int(round(len(rows) / 6)))
        pick = rng.integers(0, len(pool), len(rows))
        contractor[rows] = np.array([c for c, _ in pool], dtype=object)[pick]
        contractor_siret[rows] = np.array([s for _, s in pool], dtype=object)[pick]

    # Employer of each contract.
    employer = paths["employer"]
    employer_name = np.empty(n_contracts, dtype=object)
    employer_siret = np.empty(n_contracts, dtype=object)
    rows = np.flatnonzero(employer == 0)
    employer_name[rows] = contractor[contract_op[rows]]
    employer_siret[rows] = contractor_siret[contract_op[rows]]
    for e_index, kind in enumerate(EMPLOYER_TYPES):
        if kind in ("Entreprise attributaire", "Régie de quartier"):
            continue
        rows = np.flatnonzero(employer == e_index)
        names, sirets, local = pools.structures_of([kind])
        if not len(names):  # no such structure supplied: a stand-in of the coordination
            names = np.array([f"{kind} {where.departements[dep]}"], dtype=object)
            sirets = np.array([siret(rng)], dtype=object)
            local = np.array([True])
        employer_name[rows], employer_siret[rows] = _pick_structures(rng, len(rows), names,
                                                                     sirets, local)
    rows = np.flatnonzero(employer == EMPLOYER_TYPES.index("Régie de quartier"))
    pick = rng.integers(0, len(pools.regies), len(rows))
    employer_name[rows] = np.array([r for r, _ in pools.regies], dtype=object)[pick]
    employer_siret[rows] = np.array([s for _, s in pools.regies], dtype=object)[pick]

    # Identity (personal data) and residence.
    woman = people["woman"]
    first_names = np.where(woman, np.array(_FIRST_NAMES_F, dtype=object)[
        rng.integers(0, len(_FIRST_NAMES_F), n_people)], np.array(_FIRST_NAMES_M, dtype=object)[
        rng.integers(0, len(_FIRST_NAMES_M), n_people)])
    last_names = np.array(_LAST_NAMES, dtype=object)[rng.integers(0, len(_LAST_NAMES), n_people)]
    birth = entry - np.round((people["age"] + people["age_fraction"]) * 365.25).astype(np.int64)
    in_dep = rng.random(n_people) < RESIDENCE_IN_DEPARTEMENT
    elsewhere = communes[communes["departement"] != dep]
    if elsewhere.empty:  # a one-département région (overseas): everyone lives in it
        elsewhere = com
    residence = np.where(in_dep, _draw_communes(rng, com, n_people),
                         _draw_communes(rng, elsewhere, n_people))
    ids = f"P{dep}-" + pd.Series(np.arange(1, n_people + 1)).astype(str).str.zfill(6).to_numpy(
        dtype=object)

    # --- Defects (disjoint sets of rows within each table) ---
    counts: dict[str, int] = {}
    clean_hours = paths["hours"]
    op_clean = np.bincount(contract_op, weights=clean_hours, minlength=n_ops)
    eligible = np.flatnonzero(clean_hours < 0.4 * op_clean[contract_op])
    negative = _exact_sample(rng, eligible, min(1.0, DEFECTS["negative_hours"][0] * n_contracts
                                                / max(len(eligible), 1)))
    written_hours = clean_hours.copy()
    written_hours[negative] = -written_hours[negative]
    rest = np.setdiff1d(np.arange(n_contracts), negative)
    inverted = _exact_sample(rng, rest, DEFECTS["end_before_start"][0])
    rest = np.setdiff1d(rest, inverted)
    orphan = _exact_sample(rng, rest, DEFECTS["orphan_contract"][0])
    written_end = end.copy()
    written_end[inverted] = start[inverted] - rng.integers(1, 61, len(inverted))
    counts["negative_hours"] = len(negative)
    counts["end_before_start"] = len(inverted)
    counts["orphan_contract"] = len(orphan)

    op_written = np.round(np.bincount(contract_op, weights=written_hours, minlength=n_ops), 2)
    # Among operations of 100 h or more, so that every planted gap also exceeds 1 h.
    big_enough = np.flatnonzero(op_written >= 100)
    mismatch = _exact_sample(rng, big_enough, min(1.0, DEFECTS["operation_hours_mismatch"][0]
                                                  * n_ops / max(len(big_enough), 1)))
    factor = rng.uniform(0.03, 0.25, len(mismatch)) * np.where(rng.random(len(mismatch)) < 0.5, -1, 1)
    op_recorded = op_written.copy()
    op_recorded[mismatch] = np.round(op_written[mismatch] * (1 + factor), 2)
    counts["operation_hours_mismatch"] = len(mismatch)
    # What a reader that sets invalid contracts aside first will flag (gap > 1 h and > 1 %).
    invalid = np.zeros(n_contracts, dtype=bool)
    invalid[np.concatenate([negative, inverted, orphan])] = True
    valid_sum = np.bincount(contract_op[~invalid], weights=written_hours[~invalid],
                            minlength=n_ops)
    gap = np.abs(op_recorded - valid_sum)
    check = {"operations_with_invalid_contracts": int(np.unique(contract_op[invalid]).size),
             "flagged_after_setting_invalid_contracts_aside": int(
                 ((gap > 1) & (gap > 0.01 * np.abs(valid_sum))).sum())}
    planned = np.round(op_clean * np.exp(np.log(PLANNED_FACTOR[0])
                                         + PLANNED_FACTOR[1] * rng.standard_normal(n_ops)))

    people_rows = np.arange(n_people)
    bad_diploma = _exact_sample(rng, people_rows, DEFECTS["unknown_diploma"][0])
    rest = np.setdiff1d(people_rows, bad_diploma)
    bad_commune = _exact_sample(rng, rest, DEFECTS["invalid_commune"][0])
    rest = np.setdiff1d(rest, bad_commune)
    duplicated = _exact_sample(rng, rest, DEFECTS["duplicate_participant"][0])
    counts["unknown_diploma"] = len(bad_diploma)
    counts["invalid_commune"] = len(bad_commune)
    counts["duplicate_participant"] = len(duplicated)
    diploma = people["diploma"].copy()
    diploma[bad_diploma] = UNKNOWN_DIPLOMA
    residence = residence.astype(object)
    residence[bad_commune] = INVALID_COMMUNE

    contract_ids = ids[pid].copy()
    start_orphan = max(ORPHAN_ID_START, n_people + 1000)
    contract_ids[orphan] = f"P{dep}-" + pd.Series(start_orphan + np.arange(len(orphan))).astype(
        str).str.zfill(6).to_numpy(dtype=object)

    # --- Tables, in the spec's headers (dates as day numbers; formatted by the writer) ---
    yes_no = np.array(["Non", "Oui"], dtype=object)
    operations = pd.DataFrame({
        "Code opération": ops["code"].to_numpy(dtype=object),
        "Libellé opération": ops["label"].to_numpy(dtype=object),
        "Maître d'ouvrage": owner,
        "SIRET maître d'ouvrage": owner_siret,
        "Identifiant marché DECP": uid,
        "Modalité": ops["modality"].to_numpy(dtype=object),
        "Secteur": ops["sector"].to_numpy(dtype=object),
        "Grand projet": yes_no[is_grand.astype(int)],
        "Département": dep,
        "Commune": ops["commune"].to_numpy(dtype=object),
        "Date de début": ops["start_op"].to_numpy(),
        "Date de fin": ops["end_op"].to_numpy(),
        "Heures prévues": planned,
        "Heures réalisées": op_recorded,
    })
    repeat = np.ones(n_people, dtype=np.int64)
    repeat[duplicated] = 2
    participants = pd.DataFrame({
        "Identifiant participant": ids,
        "Nom": last_names,
        "Prénom": first_names,
        "Date de naissance": birth,
        "Sexe": np.where(woman, "F", "H").astype(object),
        "Niveau de diplôme": diploma,
        "Commune de résidence": residence,
        "Résident QPV": yes_no[people["qpv"].astype(int)],
        "Public": np.array(PUBLICS, dtype=object)[people["public"]],
        "Prescripteur": np.array(PRESCRIPTEURS, dtype=object)[people["prescriber"]],
        "Formation qualifiante": yes_no[people["training"].astype(int)],
        "Date d'entrée": entry,
    }).iloc[np.repeat(np.arange(n_people), repeat)].reset_index(drop=True)
    contracts = pd.DataFrame({
        "Identifiant participant": contract_ids,
        "Code opération": ops["code"].to_numpy(dtype=object)[contract_op],
        "Employeur": employer_name,
        "SIRET employeur": employer_siret,
        "Type d'employeur": np.array(EMPLOYER_TYPES, dtype=object)[employer],
        "Type de contrat": np.array(CONTRACT_TYPES, dtype=object)[paths["contract"]],
        "Date de début": start,
        "Date de fin": written_end,
        "Heures réalisées": written_hours,
        "Code ROME": rome_code,
        "Intitulé du poste": rome_title,
    })  # already sorted by participant, then start date
    exit_rows = np.flatnonzero(followed)
    exits = pd.DataFrame({
        "Identifiant participant": ids[exit_rows],
        "Date de fin du dernier contrat": last_end[exit_rows],
        "Situation à 6 mois": situation[exit_rows],
        "Date du premier emploi durable": np.where(durable_day[exit_rows] <= export_day,
                                                   durable_day[exit_rows], _NO_DATE),
        "Date de l'export": np.full(len(exit_rows), export_day),
    })

    # --- Calibration summary (clean values) ---
    yearly = {}
    for year in range(first_year, last_year + 1):
        lo, hi = _day(year), _day(year + 1)
        hours = _prorated(start, end, clean_hours, lo, hi)
        active = (start < hi) & (end >= lo)
        who = np.unique(pid[active])
        started = (start >= lo) & (start < hi)
        young_low = (people["age"][who] < 26) & people["low"][who]
        yearly[year] = {
            "hours": float(hours.sum()),
            "grand_project_hours": float(hours[grand].sum()),
            "beneficiaries": int(len(who)),
            "women": int(people["woman"][who].sum()),
            "qpv": int(people["qpv"][who].sum()),
            "young_low_diploma": int(young_low.sum()),
            "contracts_active": int(active.sum()),
            "contracts_started": int(started.sum()),
            "contract_months_started": float(((end - start + 1)[started] / DAYS_PER_MONTH).sum()),
        }
    known = followed & ~unknown
    # Large projects by owner (the owner sheets find them back): operations and planned hours.
    grand_rows = np.flatnonzero(is_grand)
    grand_by_owner: dict[str, dict] = {}
    for r in grand_rows:
        entry = grand_by_owner.setdefault(str(owner_siret[r]), {"nom": str(owner[r]),
                                                                "operations": 0,
                                                                "planned_hours": 0.0})
        entry["operations"] += 1
        entry["planned_hours"] += float(planned[r])
    summary = {
        "grand_owners": grand_by_owner,
        "yearly": yearly,
        "participants": n_people,
        "contracts": n_contracts,
        "operations": n_ops,
        "operations_linked_to_decp": int(linked.sum()),
        "exits": int(len(exit_rows)),
        "exits_known": int(known.sum()),
        "exits_durable_at_6_months": int((known & (months <= 6.0)).sum()),
        "exits_event_observed": int((followed & (durable_day <= export_day)).sum()),
        "situations": {s: int((situation[exit_rows] == s).sum()) for s in SITUATIONS},
        "residence_communes": sorted(set(residence[residence != INVALID_COMMUNE])),
    }
    return {"tables": {"operations": operations, "participants": participants,
                       "contracts": contracts, "exits": exits},
            "counts": counts, "operation_check": check, "summary": summary}


# --- Writers -------------------------------------------------------------------------------------


def _csv_frame(frame: pd.DataFrame, date_columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in date_columns:
        days = out[column].to_numpy(dtype=np.int64)
        missing = days == _NO_DATE
        text = pd.to_datetime(np.where(missing, 0, days), unit="D").strftime("%d/%m/%Y")
        out[column] = np.where(missing, None, np.asarray(text, dtype=object))
    return out


def _write_csv(path: Path, frame: pd.DataFrame, date_columns: list[str], encoding: str) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        _csv_frame(frame, date_columns).to_csv(
            tmp, sep=";", decimal=",", index=False, encoding=encoding,
            lineterminator="\r\n" if encoding == "cp1252" else "\n")


def _write_xlsx(path: Path, sheets: list[tuple[str, pd.DataFrame, list[str]]]) -> None:
    """Write the sheets as one workbook, in xlsxwriter's constant-memory layout.

    xlsxwriter writes the workbook around the data (styles, properties, header rows); the data
    rows are then written straight into each sheet's XML, column by column, in the exact form
    xlsxwriter gives them (inline strings, ``%.16G`` numbers, the column's date style), which is
    several times faster than a ``write_row`` per row. Cells of any other type make the whole
    workbook go through xlsxwriter instead (:func:`_write_xlsx_slow`): the bytes are the same.
    """
    import zipfile

    prepared = [(name, columns, rows) for name, columns, rows in
                ((name, list(frame.columns), _xlsx_rows(frame, date_columns))
                 for name, frame, date_columns in sheets)]
    with atomic_path(path, suffix=".xlsx") as tmp:
        try:
            bodies = [_xlsx_sheet_body(columns, rows, dates)
                      for (_, columns, rows), (_, _, dates) in zip(prepared, sheets)]
        except _NotPlain:
            _write_xlsx_slow(tmp, prepared, sheets)
            return
        skeleton = tmp.with_name(tmp.name + ".skeleton")
        try:
            # The workbook without data rows: header rows, column styles, properties.
            _write_xlsx_slow(skeleton, [(name, columns, []) for name, columns, _ in prepared],
                             sheets)
            with zipfile.ZipFile(skeleton) as source, \
                    zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
                for info in source.infolist():
                    data = source.read(info)
                    match = _SHEET_PART.fullmatch(info.filename)
                    if match:
                        body, last_row = bodies[int(match.group(1)) - 1]
                        data = _splice_rows(data, body, last_row)
                    target.writestr(info, data)
        finally:
            skeleton.unlink(missing_ok=True)


def _xlsx_rows(frame: pd.DataFrame, date_columns: list[str]) -> list[list]:
    """The cells of ``frame`` as xlsxwriter is handed them: dates as Excel serial numbers,
    missing values as ``None``."""
    data = frame.astype(object)
    for column in date_columns:
        days = frame[column].to_numpy(dtype=np.int64)
        serial = (days + _EXCEL_EPOCH_OFFSET).astype(float).astype(object)
        serial[days == _NO_DATE] = None
        data[column] = serial
    data = data.where(frame.notna(), None)
    return data.to_numpy(dtype=object).tolist()


def _write_xlsx_slow(path: Path, prepared: list[tuple[str, list, list]],
                     sheets: list[tuple[str, pd.DataFrame, list[str]]]) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                              "strings_to_numbers": False,
                                              "strings_to_formulas": False,
                                              "strings_to_urls": False})
    workbook.set_properties({"created": XLSX_CREATED, "author": "analysis.synthetic.tracking"})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    for (name, columns, rows), (_, _, date_columns) in zip(prepared, sheets):
        sheet = workbook.add_worksheet(name)
        for column in date_columns:
            position = columns.index(column)
            sheet.set_column(position, position, 12, date_format)
        sheet.write_row(0, 0, columns)
        for number, row in enumerate(rows, start=1):
            sheet.write_row(number, 0, row)
    workbook.close()


class _NotPlain(Exception):
    """A cell the fast XLSX path does not write (it is left to xlsxwriter)."""


_SHEET_PART = re.compile(r"xl/worksheets/sheet(\d+)\.xml")
#: What xlsxwriter escapes as ``_xHHHH_`` (control characters, non-characters, the escape itself).
_XLSX_SPECIAL = re.compile(r"[\x00-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")


def _xlsx_sheet_body(columns: list, rows: list[list], date_columns: list[str]) -> tuple[bytes, int]:
    """The ``<row>`` elements of the data rows (from the second row), and the last row written."""
    from xlsxwriter.utility import xl_col_to_name

    letters = [xl_col_to_name(i) for i in range(len(columns))]
    styles = [' s="1"' if c in date_columns else "" for c in columns]
    out: list[str] = []
    last = 1
    for number, row in enumerate(rows, start=2):
        cells = []
        for letter, style, value in zip(letters, styles, row):
            kind = value.__class__
            if value is None or (kind is str and not value):
                continue
            if kind is str:
                if _XLSX_SPECIAL.search(value):
                    raise _NotPlain
                preserve = ' xml:space="preserve"' if (value[0].isspace() or value[-1].isspace()) \
                    else ""
                if "&" in value or "<" in value or ">" in value:
                    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                cells.append(f'<c r="{letter}{number}"{style} t="inlineStr"><is><t{preserve}>'
                             f"{value}</t></is></c>")
            elif kind is float or kind is int:
                if kind is float and (value != value or value in (math.inf, -math.inf)):
                    raise _NotPlain
                cells.append(f'<c r="{letter}{number}"{style}><v>{value:.16G}</v></c>')
            else:
                raise _NotPlain
        if cells:
            out.append(f'<row r="{number}">' + "".join(cells) + "</row>")
            last = number
    return "".join(out).encode("utf-8"), last


def _splice_rows(sheet_xml: bytes, body: bytes, last_row: int) -> bytes:
    """Put the data rows after the header row and widen ``<dimension>`` to the last row."""
    head, sep, tail = sheet_xml.partition(b"</sheetData>")
    if not sep:
        raise ValueError("feuille XLSX sans <sheetData>")
    head = re.sub(rb'<dimension ref="([A-Z]+1:[A-Z]+)1"/>',
                  lambda m: b'<dimension ref="' + m.group(1) + str(last_row).encode() + b'"/>',
                  head, count=1)
    return head + body + sep + tail


# --- Entry point -----------------------------------------------------------------------------------



# --- Other layouts: the shapes real extractions take (docs/input_formats.md) --------------------

#: The layouts :func:`generate` can write: ``tables`` (four tables, CSV or XLSX by coordination),
#: ``flat`` (one row per work contract: CSV extractions of four coordinations side by side in
#: ``tracking/``, with title lines, an empty column and a totals row; workbooks of the four others
#: with one sheet per year under a merged title) and ``ogpf`` (the variables of the Observatoire
#: des grands projets franciliens' data-sharing convention, one CSV per coordination).
LAYOUTS = ("tables", "flat", "ogpf")
#: Headers of the flat extraction (``sources/mappings/extraction_plate.json``): the participant's,
#: the operation's, the contract's and the outcome's columns.
FLAT_RENAME = {"Commune": "Commune de l'opération", "Date de début": "Début de l'opération",
               "Date de fin": "Fin de l'opération", "Heures prévues": "Heures prévues (opération)",
               "Heures réalisées": "Heures réalisées (opération)"}
FLAT_CONTRACT_RENAME = {"Date de début": "Date de début du contrat",
                        "Date de fin": "Date de fin du contrat"}
#: Share of participants (among those with two contracts or more) whose sex differs on one row of
#: a flat extraction: the reader must quarantine them, never pick one.
FLAT_CONFLICT_RATE = 0.004
#: The OGPF convention's article column, from the modality labels of the four-table export.
OGPF_ARTICLES = {"Clause d'exécution (L2112-2)": "L2112-2", "Critère d'attribution (R2152-7)": "R2152-7",
                 "Marché réservé SIAE (L2113-13)": "L2113-13",
                 "Marché réservé EA/ESAT (L2113-12)": "L2113-12",
                 "Marché d'insertion (R2123-1)": "R2123-1"}


def _flat_rows(tables: dict[str, pd.DataFrame], rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """One row per work contract with its participant's, operation's and outcome's columns.

    A contract whose participant is not in Participants (the orphan defect) cannot be written:
    a flat row carries its participant. Exact copies of a participant row are one participant.
    A share of participants with two rows or more get another sex on their last row (the
    conflict the reader quarantines). Returns the rows and the counts for the manifest.
    """
    people = tables["participants"].drop_duplicates()
    contracts = tables["contracts"].rename(columns=FLAT_CONTRACT_RENAME)
    known = contracts["Identifiant participant"].isin(set(people["Identifiant participant"]))
    ops = tables["operations"].rename(columns=FLAT_RENAME)
    flat = (contracts[known].merge(people, on="Identifiant participant", how="left", sort=False)
            .merge(ops, on="Code opération", how="left", sort=False)
            .merge(tables["exits"], on="Identifiant participant", how="left", sort=False))
    for column in ("Date de fin du dernier contrat", "Date du premier emploi durable",
                   "Date de l'export"):
        flat[column] = flat[column].fillna(_NO_DATE).astype(np.int64)
    rows_per = flat.groupby("Identifiant participant", sort=False).size()
    eligible = np.sort(rows_per.index[rows_per >= 2].to_numpy(dtype=str))
    chosen = _exact_sample(rng, eligible, FLAT_CONFLICT_RATE * len(people) / max(len(eligible), 1))
    last = flat.index.to_series().groupby(flat["Identifiant participant"]).max()
    flip = last.loc[list(chosen)].to_numpy() if len(chosen) else np.array([], dtype=np.int64)
    flat.loc[flip, "Sexe"] = np.where(flat.loc[flip, "Sexe"] == "F", "H", "F")
    counts = {
        "rows": int(len(flat)),
        "participant_conflict": int(len(chosen)),
        "orphan_contracts_not_written": int((~known).sum()),
        "operations_without_rows": int((~ops["Code opération"].isin(set(flat["Code opération"]))).sum()),
        "participants_without_rows": int((~people["Identifiant participant"].isin(
            set(flat["Identifiant participant"]))).sum()),
    }
    return flat, counts


def _flat_date_columns() -> list[str]:
    return ["Date de naissance", "Date d'entrée", "Début de l'opération", "Fin de l'opération",
            "Date de début du contrat", "Date de fin du contrat", "Date de fin du dernier contrat",
            "Date du premier emploi durable", "Date de l'export"]


def _ogpf_rows(flat: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The OGPF convention's variables from the flat rows: an age at entry instead of a birth
    date, the legal article instead of the modality label, no name, no address."""
    born = flat["Date de naissance"].to_numpy(dtype=np.int64)
    entered = flat["Date d'entrée"].to_numpy(dtype=np.int64)
    b = pd.to_datetime(born, unit="D")
    e = pd.to_datetime(entered, unit="D")
    age = e.year - b.year - ((e.month < b.month) | ((e.month == b.month) & (e.day < b.day)))
    frame = pd.DataFrame({
        "Identifiant bénéficiaire": flat["Identifiant participant"],
        "Sexe": flat["Sexe"],
        "Âge au début de la période de clause": np.asarray(age, dtype=np.int64),
        "Niveau de qualification à l'entrée": flat["Niveau de diplôme"],
        "Résident QPV": flat["Résident QPV"],
        "Date de début de la période de clause": flat["Date d'entrée"],
        "Code opération": flat["Code opération"],
        "Opération": flat["Libellé opération"],
        "Maître d'ouvrage": flat["Maître d'ouvrage"],
        "Article du code de la commande publique": flat["Modalité"].map(OGPF_ARTICLES),
        "Département": flat["Département"],
        "Commune du chantier": flat["Commune de l'opération"],
        "Heures d'insertion prévues": flat["Heures prévues (opération)"],
        "Employeur": flat["Employeur"],
        "Type d'employeur": flat["Type d'employeur"],
        "Type de contrat": flat["Type de contrat"],
        "Date de début du contrat": flat["Date de début du contrat"],
        "Date de fin du contrat": flat["Date de fin du contrat"],
        "Heures réalisées": flat["Heures réalisées"],
        "Situation à la sortie": flat["Situation à 6 mois"],
        "Date de fin du dernier contrat": flat["Date de fin du dernier contrat"],
        "Date de l'export": flat["Date de l'export"],
    })
    return frame, ["Date de début de la période de clause", "Date de début du contrat",
                   "Date de fin du contrat", "Date de fin du dernier contrat", "Date de l'export"]


def _write_flat_csv(path: Path, frame: pd.DataFrame, date_columns: list[str], encoding: str,
                    title: str) -> None:
    """A hand-kept extraction: two title lines, an empty column after the third, a totals row
    (the sum of the hours) at the bottom."""
    out = _csv_frame(frame, date_columns)
    out.insert(3, "", None)
    body = out.to_csv(sep=";", decimal=",", index=False,
                      lineterminator="\r\n" if encoding == "cp1252" else "\n")
    newline = "\r\n" if encoding == "cp1252" else "\n"
    width = len(out.columns)
    total = [""] * width
    total[0] = "Total"
    hours = list(out.columns).index("Heures réalisées")
    total[hours] = f"{frame['Heures réalisées'].sum():.2f}".replace(".", ",")
    text = (title + ";" * (width - 1) + newline + "Extraction du " + "30/06" + newline + body
            + ";".join(total) + newline)
    with atomic_path(path, suffix=".csv") as tmp:
        tmp.write_bytes(text.encode(encoding))


def _write_flat_xlsx_by_year(path: Path, frame: pd.DataFrame, date_columns: list[str],
                             title: str) -> dict[str, int]:
    """One sheet per year of contract start, a title merged over two rows, a blank row, then the
    header. Returns the rows per sheet."""
    import xlsxwriter

    years = pd.to_datetime(frame["Date de début du contrat"].to_numpy(dtype=np.int64), unit="D").year
    rows_by_sheet = {}
    with atomic_path(path, suffix=".xlsx") as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {"constant_memory": True,
                                                 "strings_to_numbers": False,
                                                 "strings_to_formulas": False,
                                                 "strings_to_urls": False})
        workbook.set_properties({"created": XLSX_CREATED, "author": "analysis.synthetic.tracking"})
        date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
        columns = list(frame.columns)
        for year in sorted(set(years)):
            part = frame[years == year]
            sheet = workbook.add_worksheet(str(year))
            for column in date_columns:
                position = columns.index(column)
                sheet.set_column(position, position, 12, date_format)
            sheet.merge_range(0, 0, 1, 5, f"{title} — {year}")
            sheet.write_row(3, 0, columns)
            for number, row in enumerate(_xlsx_rows(part, date_columns), start=4):
                sheet.write_row(number, 0, row)
            rows_by_sheet[str(year)] = int(len(part))
        workbook.close()
    return rows_by_sheet

def generate(out: Path, seed: int, first_year: int, last_year: int, scale: float,
             communes: pd.DataFrame, structures: pd.DataFrame, decp_contracts: pd.DataFrame,
             export_date: date, layout: str = "tables", region: Region | None = None) -> dict:
    """Write ``out/tracking/<dep>/...`` for the région's coordinations; return the manifest.

    Parameters
    ----------
    out
        The folder to write in (laid out like ``data/raw/``).
    seed
        Random seed: the same seed, years, scale and inputs give byte-identical files.
    first_year, last_year
        Years of work contracts (pathways that began up to three years earlier contribute their
        contracts still running on 1 January of ``first_year``).
    scale
        Multiplies the volumes (1.0: Île-de-France, about 6.3 M hours in 2021).
    communes
        The reference commune table without geometry (``type == 'COM'`` rows are used).
    structures
        The inclusion structures (``structures.generate``): ETTI, AI, GEIQ and EI employers and
        the contractors of reserved markets are drawn from them.
    decp_contracts
        DECP contracts (``uid``, ``acheteur_id``, ``acheteur_nom``, ``acheteur_type``,
        ``departement``, ``annee``, ``secteur``, ``social``, ``dateNotification``); operations
        are linked to those with a social consideration.
    export_date
        End of follow-up: situations and first durable jobs are censored at this date.
    region
        The région (:func:`analysis.synthetic.region.profile`; default: the one in force): its
        départements are the coordinations, with :func:`setting`'s settings.

    Returns
    -------
    dict
        The manifest: formats and row counts per coordination, calibration targets and realised
        values, the planted outcome models and the defects with their exact counts.
    """
    out = Path(out)
    region = region or profile()
    where = setting(region)
    pilot = _pilot(where.pilot_key())
    rates = _entry_rates(first_year, last_year, pilot["hours"])
    export_day = _day(export_date.year, export_date.month, export_date.day)
    communes = communes[communes["type"] == "COM"].sort_values("code_insee", ignore_index=True)
    structures = structures.sort_values("siret", ignore_index=True) if len(structures) else \
        pd.DataFrame(columns=["siret", "raison_sociale", "type", "departement"])
    decp = decp_contracts.reset_index(drop=True).copy() if decp_contracts is not None \
        else pd.DataFrame()
    if not decp.empty:
        decp = decp[decp["dateNotification"].notna()].reset_index(drop=True)
        decp["_day"] = (pd.to_datetime(decp["dateNotification"]).to_numpy().astype(
            "datetime64[D]") - _EPOCH).astype(np.int64)
        decp["departement"] = decp["departement"].astype(object)

    deps = where.deps
    streams = np.random.SeedSequence([seed, 0x7AC]).spawn(len(deps) + 1)
    shared = np.random.default_rng(streams[-1])
    majors = [(name, siret(shared)) for name in where.majors]
    # The large projects' first owner is a DECP buyer when the DECP set holds it: the Société des
    # grands projets in Île-de-France, the région elsewhere.
    owner_kind, owner_name = (("sgp", "Société des grands projets") if where.is_calibration
                              else ("region", where.grand_owners[0][0]))
    sgp_siret = None
    if not decp.empty and (decp["acheteur_type"] == owner_kind).any():
        sgp_siret = str(decp.loc[decp["acheteur_type"] == owner_kind, "acheteur_id"].iloc[0])
    grand_owners = [(name, sgp_siret if name == owner_name and sgp_siret
                     else siret(shared)) for name, _ in where.grand_owners]

    files: dict[str, dict] = {}
    defects = {name: {"description": text, "rate": rate, "unit": unit, "count": 0,
                      "by_departement": {}} for name, (rate, unit, text) in DEFECTS.items()}
    totals: dict[int, dict[str, float]] = {}
    by_dep: dict[str, dict] = {}
    residence_communes: set[str] = set()
    grand_owner_totals: dict[str, dict] = {}
    for d_index, dep in enumerate(deps):
        rng = np.random.default_rng(streams[d_index])
        result = _departement(dep, rng, rates, first_year, last_year, scale, communes,
                              structures, decp, export_day, majors, grand_owners, where)
        tables = result["tables"]
        kind, encoding = where.formats[dep]
        folder = out / "tracking" / dep
        if layout != "tables":
            flat, flat_counts = _flat_rows(tables, np.random.default_rng([seed, 0xF1A7, d_index]))
            title = f"Suivi des clauses sociales — coordination {dep}"
            if layout == "ogpf":
                frame, dates = _ogpf_rows(flat)
                file_name = f"ogpf_{dep}.csv"
                _write_flat_csv(out / "tracking" / dep / file_name, frame, dates, encoding or "utf-8-sig",
                                title)
                rows = {file_name: int(len(frame))}
                file_list = [f"{dep}/{file_name}"]
            elif kind == "csv":
                frame = flat
                file_name = f"extraction_{dep}.csv"
                _write_flat_csv(out / "tracking" / file_name, frame, _flat_date_columns(),
                                encoding, title)
                rows = {file_name: int(len(frame))}
                file_list = [file_name]
            else:
                file_name = f"extraction_{dep}.xlsx"
                rows = _write_flat_xlsx_by_year(folder / file_name, flat, _flat_date_columns(),
                                                title)
                file_list = [f"{dep}/{file_name}"]
            files[dep] = {"format": "csv" if layout == "ogpf" else kind, "encoding": encoding,
                          "layout": layout, "files": file_list, "rows": rows, "flat": flat_counts}
        elif kind == "csv":
            for key, (file_name, _, headers, date_columns) in TABLES.items():
                _write_csv(folder / file_name, tables[key][headers], date_columns, encoding)
            rows = {TABLES[key][0]: int(len(tables[key])) for key in TABLES}
            file_list = [TABLES[key][0] for key in TABLES]
        else:
            file_name = f"export_clauses_{dep}.xlsx"
            _write_xlsx(folder / file_name, [(TABLES[key][1], tables[key][TABLES[key][2]],
                                              TABLES[key][3]) for key in TABLES])
            rows = {TABLES[key][1]: int(len(tables[key])) for key in TABLES}
            file_list = [file_name]
        if layout == "tables":
            files[dep] = {"format": kind, "encoding": encoding, "files": file_list, "rows": rows}
        for name, count in result["counts"].items():
            defects[name]["count"] += count
            defects[name]["by_departement"][dep] = count
        for name, count in result["operation_check"].items():
            check = defects["operation_hours_mismatch"].setdefault(name, {"count": 0,
                                                                          "by_departement": {}})
            check["count"] += count
            check["by_departement"][dep] = count
        summary = result["summary"]
        residence_communes.update(summary.pop("residence_communes"))
        for key, entry in summary.pop("grand_owners").items():
            slot = grand_owner_totals.setdefault(key, {"nom": entry["nom"], "operations": 0,
                                                       "planned_hours": 0.0})
            slot["operations"] += entry["operations"]
            slot["planned_hours"] += entry["planned_hours"]
        for year, values in summary.pop("yearly").items():
            slot = totals.setdefault(year, {})
            for key, value in values.items():
                slot[key] = slot.get(key, 0) + value
        by_dep[dep] = summary
        del result, tables

    realised = {}
    for year, t in totals.items():
        benef = max(t["beneficiaries"], 1)
        realised[str(year)] = {
            "hours": round(t["hours"]),
            "beneficiaries": int(t["beneficiaries"]),
            "women_share": round(t["women"] / benef, 4),
            "qpv_share": round(t["qpv"] / benef, 4),
            "young_low_diploma_share": round(t["young_low_diploma"] / benef, 4),
            "grand_project_hours_share": round(t["grand_project_hours"] / max(t["hours"], 1), 4),
            "mean_contract_months": round(t["contract_months_started"]
                                          / max(t["contracts_started"], 1), 3),
            "contracts_per_beneficiary": round(t["contracts_active"] / benef, 3),
            "contracts_started_per_beneficiary": round(t["contracts_started"] / benef, 3),
        }
    expected = {}
    for year in range(first_year, last_year + 1):
        benef = sum(rates.get(year - k, rates[min(rates)]) * pilot["beneficiaries"][k]
                    for k in range(len(pilot["beneficiaries"])))
        expected[str(year)] = {"hours": round(_lookup(YEARLY_HOURS, year) * scale),
                               "beneficiaries": round(benef * scale)}

    exits_known = sum(v["exits_known"] for v in by_dep.values())
    durable = sum(v["exits_durable_at_6_months"] for v in by_dep.values())
    intercept = math.log(6 * BASELINE_RATE)
    manifest = {
        "generator": "analysis.synthetic.tracking",
        "seed": seed,
        "scale": scale,
        "years": [first_year, last_year],
        "export_date": export_date.isoformat(),
        "layout": layout,
        "files": files,
        "conventions": {
            "year_of_hours": "a contract's Heures réalisées are spread evenly over its days "
                             "(pro rata temporis) to count the hours of a calendar year",
            "beneficiaries": "distinct participants with a work contract active (overlapping) "
                             "in the year",
            "age": "age in completed years at Date d'entrée, from Date de naissance",
            "young_low_diploma": "under 26 at entry and Niveau de diplôme in "
                                 + ", ".join(LOW_DIPLOMA_LABELS),
            "mean_contract_duration": "(Date de fin - Date de début + 1 day) / 30.4375, over "
                                      "contracts starting in the year",
            "shares": "women, QPV and young shares are among the year's beneficiaries",
            "contracts_per_beneficiary": "contracts active in the year (including those carried "
                                         "over from the previous year) per beneficiary; "
                                         "contracts_started_per_beneficiary counts only those "
                                         "starting in the year",
            "warmup": f"pathways start up to {PATHWAY['warmup_years']} years before first_year; "
                      "only their contracts ending on or after 1 January of first_year are "
                      "written (Date d'entrée can be earlier than first_year)",
        },
        "calibration": {
            "yearly_hours": {str(y): {"hours": v, "source": s} for y, (v, s) in
                             YEARLY_HOURS.items()},
            "departement_shares": where.shares,
            "grand_project_share": {str(y): {"share": v, "source": s} for y, (v, s) in
                                    GRAND_PROJECT_SHARE.items()},
            "grand_project_weight_by_departement": where.grand_weight,
            "targets_2021": {"hours": 6_300_000, "beneficiaries": 12_400, "women_share": 0.15,
                             "qpv_share": 0.15, "young_low_diploma_share": 0.30,
                             "grand_project_hours_share": 0.25, "mean_contract_months": 2.5,
                             "source": "../shared/domain.md section 3 (DRIEETS via ess2024.org; "
                                       "Banque des territoires; Le Moniteur)"},
            "entrants_per_year_scale_1": {str(y): round(v, 1) for y, v in rates.items()},
            "expected": expected,
            "realised": realised,
            "pathway": {k: (list(v) if isinstance(v, tuple) else v) for k, v in PATHWAY.items()},
            "pilot_contracts_per_entrant": round(pilot["contracts_per_entrant"], 4),
            "pilot_mean_contract_months": round(pilot["mean_contract_months"], 4),
        },
        "operations": {
            "modality_shares": MODALITIES,
            "sector_shares_outside_large_projects": SECTORS,
            "mean_contracts_per_operation": OPERATION_SIZE,
            "decp_link_share_target": DECP_LINK_SHARE,
            "operations": sum(v["operations"] for v in by_dep.values()),
            "operations_linked_to_decp": sum(v["operations_linked_to_decp"] for v in by_dep.values()),
            # large-project operations by owner SIRET (clean values, before defects): the DECP
            # buyer when linked (the Société des grands projets), else drawn by owner weight
            "grand_owners": {key: {"nom": v["nom"], "operations": v["operations"],
                                   "planned_hours": round(v["planned_hours"], 2),
                                   "weight_when_unlinked": dict(where.grand_owners).get(v["nom"])}
                             for key, v in sorted(grand_owner_totals.items())},
        },
        "counts": {
            "participants": sum(v["participants"] for v in by_dep.values()),
            "contracts": sum(v["contracts"] for v in by_dep.values()),
            "operations": sum(v["operations"] for v in by_dep.values()),
            "exits": sum(v["exits"] for v in by_dep.values()),
            "residence_communes": len(residence_communes),
            "by_departement": by_dep,
        },
        "hazard_model": {
            "description": "time T (months of 30.5 days) from the end of the last insertion "
                           "contract (Date de fin du dernier contrat) to the first durable job is "
                           "exponential with rate baseline_rate_per_month x exp(x'beta + "
                           "departement effect); Date du premier emploi durable = end + "
                           "ceil(T x 30.5) days when on or before the export date, else empty "
                           "(right-censored at Date de l'export)",
            "baseline_rate_per_month": BASELINE_RATE,
            "log_hazard_ratios": LOG_HAZARD_RATIOS,
            "departement_log_hazard": where.hazard,
            "departement_reference": where.reference,
            "covariates": COVARIATES if where.is_calibration else {
                **COVARIATES, "departement": f"the coordination (dummies, reference "
                                             f"{where.reference})"},
            "month_days": OUTCOME_MONTH_DAYS,
            "truth_uses": "the clean values (before defects): hours before sign errors, the real "
                          "diploma behind 'Niveau ?', the real last contract",
        },
        "six_month_outcome": {
            "description": "Situation à 6 mois is 'Emploi durable' iff T <= 6 months (183 days); "
                           "otherwise one of the other situations at fixed shares independent "
                           "of the covariates; then a share is masked as 'Inconnue' completely "
                           "at random. Only participants whose last contract ended at least 183 "
                           "days before the export date have a Sorties row.",
            "link": "cloglog",
            "formula": "cloglog P(Emploi durable) = log(6 x baseline_rate) + x'beta + "
                       "departement effect",
            "intercept": round(intercept, 6),
            "coefficients": LOG_HAZARD_RATIOS,
            "departement_effects": where.hazard,
            "logit_pseudo_true_log_odds_ratios": {k: v for k, v in pilot["logit"].items()
                                                  if k != "intercept"},
            "logit_pseudo_true_intercept": pilot["logit"]["intercept"],
            "logit_pseudo_true_note": f"a logistic regression with the same covariates converges "
                                      f"to these values: fitted once by statsmodels Logit on the "
                                      f"exact probabilities of {PILOT_SIZE} simulated participants "
                                      f"(seed {PILOT_SEED}) drawn from the generator's covariate "
                                      "distribution (complete pathways)",
            "expected_durable_share": round(pilot["six_month_share"], 4),
            "realised_durable_share_among_known": round(durable / max(exits_known, 1), 4),
            "other_situation_shares": OTHER_SITUATIONS,
            "unknown_rate": UNKNOWN_RATE,
            "mcar": True,
            "situation_counts": {s: sum(v["situations"][s] for v in by_dep.values())
                                 for s in SITUATIONS},
        },
        "defects": defects,
    }
    if not where.is_calibration:
        manifest["calibration"]["region_note"] = (
            f"{where.region_name}: yearly_hours, targets_2021 and entrants_per_year_scale_1 are "
            "Île-de-France's published figures at scale 1, used as national-like defaults; the "
            "région's volumes are them x the effective scale (the generator's scale x the "
            "région's population / Île-de-France's), see expected; shares (women, QPV, young, "
            "large projects) are Île-de-France's")
    return manifest
