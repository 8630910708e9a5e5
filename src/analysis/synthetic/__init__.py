"""Synthetic data that looks and behaves like the observatory's real inputs, with planted truths.

:func:`generate` writes a folder laid out like ``data/raw/`` plus ``manifest.json``, which records
the seed, the scale, the région, every planted effect and every defect count. Any région of the
reference geography can be generated (:mod:`.region`): Île-de-France is the calibration région;
another one gets volumes in proportion to its population and Île-de-France's published figures
as national-like defaults. It writes aside and swaps the
folder in at the end, so an interrupted run never leaves a half-written data set behind.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path

from .. import __version__, config
from ..io import write_text
import numpy as np

from . import decp, grand_paris, structures, tracking
from .region import profile

#: The sources the generator can write.
SOURCES = ("decp", "structures", "tracking", "grand_paris")

#: Notification years of the default data set.
DEFAULT_YEARS = (2018, 2025)


def _swap_in(staging: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def generate(out: Path | None = None, seed: int = config.DEFAULT_SEED,
             first_year: int = DEFAULT_YEARS[0], last_year: int = DEFAULT_YEARS[1],
             scale: float = 1.0, sources: tuple[str, ...] = None,
             decp_layout: str = "buyers", tracking_layout: str = "tables",
             region: str | None = None) -> dict:
    """Generate every source into ``out`` (default: ``data/raw/synthetic``) and return the manifest.

    Parameters
    ----------
    out
        Destination folder; replaced whole when the generation succeeds.
    seed
        Random seed: the same seed, years and scale give byte-identical files.
    first_year, last_year
        Years covered (DECP notifications, tracking activity).
    scale
        1 is Île-de-France; 10 is about national volume. For another région, volumes are
        further multiplied by its population over Île-de-France's (the effective scale is in
        the manifest, ``region.effective_scale``).
    sources
        Which sources to write (default: all of :data:`SOURCES`; outside Île-de-France all but
        ``grand_paris``, which only Île-de-France has). The others are left out, and the
        tracking exports and Grand Paris contracts still link to the DECP contracts drawn.
    decp_layout
        ``"buyers"`` (one file per buyer and year) or ``"consolidated"`` (one national-style file).
    tracking_layout
        ``"tables"`` (four tables per coordination), ``"flat"`` (one row per work contract, in the
        shapes hand-kept extractions take) or ``"ogpf"`` (the grands-projets convention's
        variables): see :data:`analysis.synthetic.tracking.LAYOUTS`.
    region
        Code of the région (``"53"``, ``"94"``, ``"04"``...; default: the région in force,
        ``config.REGION_CODE``): buyers, coordinations, structures and places are its own.
        Mayotte (``"06"``) is refused: the reference holds no population for it.
    """
    area = profile(region)
    default_sources = SOURCES if area.is_calibration else tuple(
        s for s in SOURCES if s != "grand_paris")
    sources = tuple(sources or default_sources)
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"source(s) inconnue(s) : {', '.join(sorted(unknown))}")
    if "grand_paris" in sources and not area.is_calibration:
        raise ValueError(f"la source grand_paris (Grand Paris Express) n'existe qu'en "
                         f"Île-de-France, pas en {area.name} ({area.code})")
    if first_year > last_year:
        raise ValueError(f"première année {first_year} après la dernière {last_year}")
    if scale <= 0:
        raise ValueError(f"échelle invalide : {scale}")
    if tracking_layout not in tracking.LAYOUTS:
        raise ValueError(f"disposition de suivi inconnue : {tracking_layout} "
                         f"(attendu : {', '.join(tracking.LAYOUTS)})")
    out = Path(out or config.paths().synthetic)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    started = time.perf_counter()
    try:
        from ..reference import commune_table
        from .region import communes_path

        communes = commune_table(communes_path(area.code))
        effective = area.scaled(scale)
        # One independent seed per source, derived from the user's seed.
        decp_seed, structures_seed, tracking_seed, gp_seed = (
            int(s) for s in np.random.SeedSequence(seed).generate_state(4))
        export_date = date(last_year + 1, 6, 30)
        written: dict[str, dict] = {}
        # The structures first (their own seed: the same files whatever the order): the DECP
        # award some contracts to them (inclusive purchasing, planted by buyer type).
        directory, structures_manifest = structures.generate(
            staging, seed=structures_seed, scale=effective, communes=communes, region=area)
        if "structures" in sources:
            written["structures"] = structures_manifest
        else:
            shutil.rmtree(staging / "structures")
        decp_manifest, contracts = decp.generate(staging, seed=decp_seed, first_year=first_year,
                                                 last_year=last_year, scale=effective,
                                                 communes=communes, layout=decp_layout,
                                                 inclusive=directory, region=area)
        if "decp" in sources:
            written["decp"] = decp_manifest
        else:
            shutil.rmtree(staging / "decp")
            shutil.rmtree(staging / "acheteurs")
        if "tracking" in sources:
            written["tracking"] = tracking.generate(
                staging, seed=tracking_seed, first_year=first_year, last_year=last_year,
                scale=effective, communes=communes, structures=directory,
                decp_contracts=contracts, export_date=export_date, layout=tracking_layout,
                region=area)
        if "grand_paris" in sources:
            sgp_works = contracts[(contracts["acheteur_type"] == "sgp")
                                  & (contracts["secteur"] == "travaux")]
            written["grand_paris"] = grand_paris.generate(
                staging, seed=gp_seed, first_year=first_year, last_year=last_year, scale=scale,
                sgp_contracts=sgp_works[["uid", "dateNotification", "montant", "departement"]])
        manifest = {
            "generator_version": __version__,
            "seed": seed,
            "derived_seeds": {"decp": decp_seed, "structures": structures_seed,
                              "tracking": tracking_seed, "grand_paris": gp_seed},
            "scale": scale,
            "region": area.manifest(scale),
            "years": [first_year, last_year],
            "export_date": export_date.isoformat(),
            "sources": written,
        }
        write_text(staging / "manifest.json",
                   json.dumps(manifest, ensure_ascii=False, indent=2, default=str))
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # Timing is not part of the data set (the files stay byte-identical): returned, not written.
    return {**manifest, "seconds": round(time.perf_counter() - started, 1)}
