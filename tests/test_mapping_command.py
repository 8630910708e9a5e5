"""``observatoire mapping suggest`` and ``check`` on a flat extraction with unfamiliar French
headers: the right mapping for every column the dictionary knows, personal look-alikes flagged
and never mapped to a kept column, a dry run that writes nothing. Small fixtures; a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.sources.mapping_tools import suggest
from analysis.sources.tracking import check_mapping
from analysis.sources.tabular import load_mapping
from analysis.warehouse import _commune_codes
from test_tracking_shapes import flat_frame, write_flat_csv

#: Unfamiliar headers (as a coordination's spreadsheet might name them) → what they are.
UNFAMILIAR = {
    "Identifiant participant": ("N° bénéficiaire", "participants", "participant_raw"),
    "Nom": ("Nom de famille", "participants", "nom"),
    "Prénom": ("Prénoms", "participants", "prenom"),
    "Date de naissance": ("Né(e) le", "participants", "date_naissance"),
    "Sexe": ("Genre", "participants", "sexe"),
    "Niveau de diplôme": ("Niveau de formation", "participants", "diplome"),
    "Commune de résidence": ("Commune domicile", "participants", "commune_residence"),
    "Résident QPV": ("Habite en QPV", "participants", "qpv"),
    "Public": ("Public éligible", "participants", "public"),
    "Prescripteur": ("Orienté par", "participants", "prescripteur"),
    "Formation qualifiante": ("Formation suivie", "participants", "formation_qualifiante"),
    "Date d'entrée": ("Date entrée", "participants", "date_entree"),
    "Code opération": ("N° opération", "operations", "operation_code"),
    "Libellé opération": ("Intitulé opération", "operations", "libelle"),
    "Maître d'ouvrage": ("Donneur d'ordre", "operations", "maitre_ouvrage"),
    "SIRET maître d'ouvrage": ("SIRET donneur d'ordre", "operations", "maitre_ouvrage_siret"),
    "Identifiant marché DECP": ("Identifiant DECP", "operations", "decp_uid"),
    "Modalité": ("Type de clause", "operations", "modalite"),
    "Secteur": ("Secteur d'activité", "operations", "secteur"),
    "Grand projet": ("Grand chantier", "operations", "grand_projet"),
    "Département": ("Dépt", "operations", "departement"),
    "Commune de l'opération": ("Lieu d'exécution", "operations", "commune"),
    "Début de l'opération": ("Début chantier", "operations", "date_debut"),
    "Fin de l'opération": ("Fin chantier", "operations", "date_fin"),
    "Heures prévues (opération)": ("Objectif d'heures", "operations", "heures_prevues"),
    "Heures réalisées (opération)": ("Total heures opération", "operations", "heures_realisees"),
    "Employeur": ("Structure employeuse", "work_contracts", "employeur"),
    "SIRET employeur": ("SIRET de l'employeur", "work_contracts", "employeur_siret"),
    "Type d'employeur": ("Type de structure", "work_contracts", "type_employeur"),
    "Type de contrat": ("Nature du contrat", "work_contracts", "type_contrat"),
    "Date de début du contrat": ("Date d'embauche", "work_contracts", "date_debut"),
    "Date de fin du contrat": ("Fin de mission", "work_contracts", "date_fin"),
    "Heures réalisées": ("Heures effectuées", "work_contracts", "heures"),
    "Code ROME": ("Code métier", "work_contracts", "code_rome"),
    "Intitulé du poste": ("Poste occupé", "work_contracts", "poste"),
    "Date de fin du dernier contrat": ("Date de sortie", "outcomes", "date_fin_dernier_contrat"),
    "Situation à 6 mois": ("Type de sortie", "outcomes", "situation_6_mois"),
    "Date du premier emploi durable": ("Date d'accès à l'emploi durable", "outcomes",
                                       "date_premier_emploi_durable"),
    "Date de l'export": ("Date d'extraction", "outcomes", "date_export"),
}
#: Headers the dictionary does not hold as such: matched by similar names and by values.
FUZZY = {
    "Sexe": ("Sexe du participant", "participants", "sexe"),
    "Niveau de diplôme": ("Qualif.", "participants", "diplome"),
    "Date de naissance": ("Date de naissance du bénéficiaire", "participants", "date_naissance"),
    "Commune de résidence": ("Cde commune hab.", "participants", "commune_residence"),
    "Heures réalisées": ("Heures realisees (contrat)", "work_contracts", "heures"),
    "Situation à 6 mois": ("Devenir", "outcomes", "situation_6_mois"),
}


def unfamiliar_export(folder: Path) -> Path:
    frame = flat_frame().rename(columns={k: v[0] for k, v in UNFAMILIAR.items()})
    frame["Portable"] = ["06 12 34 56 78", "07 98 76 54 32", "06 11 22 33 44", "01 45 67 89 00"]
    frame["Observations"] = ["joindre au 06 12 34 56 78", "", "a.b@exemple.fr", "RAS"]
    frame["Colonne maison"] = "x"
    return write_flat_csv(folder, frame)


@pytest.fixture(scope="module")
def codes() -> set[str]:
    return set(_commune_codes())


def test_suggest_proposes_the_right_mapping_for_every_known_column(tmp_path, codes):
    path = unfamiliar_export(tmp_path / "tracking" / "93")
    found = suggest([path], codes)
    got = {m.header: (m.table, m.column) for m in found.matches}
    wrong = {header: (got.get(header), (table, column))
             for header, table, column in UNFAMILIAR.values() if got.get(header) != (table, column)}
    assert wrong == {}
    assert got["Colonne maison"] == (None, None)
    # The draft: one flat table, shared keys in every table that needs them, personal columns
    # with their treatment, a valid mapping.
    mapping = found.mapping
    assert mapping["extends"] == "extraction_plate" and mapping["files"]["flat"] == [
        "export_{coordination}.csv"]
    assert mapping["tables"]["work_contracts"]["N° bénéficiaire"] == "participant_raw"
    assert mapping["tables"]["outcomes"]["N° bénéficiaire"] == "participant_raw"
    assert mapping["personal"] == {"participant_raw": "pseudonymiser", "nom": "supprimer",
                                   "prenom": "supprimer", "date_naissance": "tranche d'âge",
                                   "telephone": "supprimer"}
    check_mapping({**load_mapping("extraction_plate"), **mapping})
    assert mapping["a_completer"]["valeurs_hors_vocabulaire"]["diplome"] == ["Niveau ?"]


def test_suggest_never_maps_a_personal_look_alike_to_a_kept_column(tmp_path, codes):
    path = unfamiliar_export(tmp_path / "tracking" / "93")
    found = suggest([path], codes)
    by_header = {m.header: m for m in found.matches}
    assert by_header["Portable"].column == "telephone"          # by its name
    assert by_header["Observations"].column is None              # by its values
    assert "telephone" in by_header["Observations"].personal
    kept = {h for t in found.mapping["tables"].values() for h, c in t.items()
            if c not in ("participant_raw", "nom", "prenom", "date_naissance", "telephone")}
    assert not kept & {"Portable", "Observations", "Nom de famille", "Prénoms", "Né(e) le"}
    report = "\n".join(found.lines)
    assert "« Observations » — valeurs d'allure email (33% des valeurs lues), telephone" in report


def test_check_is_a_dry_run_in_french_naming_file_sheet_line(tmp_path, codes, capsys,
                                                               monkeypatch):
    processed = tmp_path / "processed"
    monkeypatch.setenv("OBSERVATOIRE_PROCESSED_DIR", str(processed))
    path = unfamiliar_export(tmp_path / "tracking" / "93")
    draft = tmp_path / "draft.json"
    assert main(["mapping", "suggest", str(path), "--out", str(draft)]) == 0
    capsys.readouterr()
    assert main(["mapping", "check", str(path), "--mapping", str(draft)]) == 0
    out = capsys.readouterr().out
    assert "tracking/93/export_93.csv#contrats : 4 lue(s) = 2 gardée(s) + 2 en quarantaine + 0 fusionnée(s)" \
        in out
    assert "fin de contrat avant le début — tracking/93/export_93.csv#contrats, ligne 6" in out
    assert "« Observations »" in out and "« Portable » (supprimer)" in out
    assert "Aucun entrepôt écrit" in out
    assert not processed.exists()
    # A mapping that would keep the comments (telephone numbers) as a job title is refused.
    mapping = json.loads(draft.read_text(encoding="utf-8"))
    mapping["tables"]["work_contracts"] = {("Observations" if c == "poste" else h): c
                                           for h, c in mapping["tables"]["work_contracts"].items()}
    draft.write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    assert main(["mapping", "check", str(path), "--mapping", str(draft)]) == 2
    err = capsys.readouterr().err
    assert "tracking/93/export_93.csv" in err and "« Observations »" in err and "personnelle" in err


def test_suggest_matches_unknown_names_by_similarity_and_values(tmp_path, codes):
    frame = flat_frame().rename(columns={k: v[0] for k, v in FUZZY.items()})
    found = suggest([write_flat_csv(tmp_path / "tracking" / "93", frame)], codes)
    got = {m.header: (m.table, m.column, m.confidence) for m in found.matches}
    for header, table, column in FUZZY.values():
        assert got[header][:2] == (table, column), (header, got[header])
        assert 0.6 <= got[header][2] < 1.0  # a proposal to review, not a certainty
    devenir = next(m for m in found.matches if m.header == "Devenir")
    assert devenir.how == "par les valeurs"
