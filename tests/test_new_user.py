"""The suite as a new user meets it: periods outside the data, JupyterLab, re-runs."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess

import nbformat
import pandas as pd
import pytest

from analysis import config, reporting
from analysis.periods import PeriodError
from conftest import TODAY

NOTEBOOKS = sorted((config.ROOT / "notebooks").glob("*.ipynb"))


def _coverage():
    from analysis.periods import Coverage  # imported in each test: each fails on its own

    return Coverage


def _notebooks():
    from analysis import notebooks

    return notebooks


# --- Periods checked against the data ------------------------------------------------------------


def _contracts(first: str, last: str) -> pd.DataFrame:
    dates = pd.date_range(first, last, freq="7D")
    return pd.DataFrame({"dateNotification": dates})


def test_a_period_without_data_is_refused_naming_the_years_covered():
    coverage = _coverage().of_tables(_contracts("2018-01-03", "2025-06-28"))
    for period in ("2012", "2030", "2025-T3", "2017-T4"):
        with pytest.raises(PeriodError) as caught:
            coverage.check(period)
        message = str(caught.value)
        assert message.startswith(f"aucune donnée pour la période {period}")
        assert "les données couvrent 2018-2025" in message
    assert coverage.check("2024") is None and coverage.check("2025-T2") is None


def test_a_partly_covered_period_gets_a_warning_naming_the_missing_months():
    coverage = _coverage().of_tables(_contracts("2018-01-03", "2025-06-28"))
    warning = coverage.check("2025")
    assert warning.startswith("Période partiellement couverte")
    assert "6 mois sur 12" in warning and "juillet 2025 – décembre 2025" in warning
    gap = _coverage().of_tables(pd.concat([_contracts("2020-01-01", "2020-03-31"),
                                        _contracts("2021-01-01", "2021-12-31")]))
    assert gap.years_fr == "2020-2021"
    assert "avril 2020 – décembre 2020" in gap.check("2020")


def test_tracking_months_when_there_is_no_decp():
    work = pd.DataFrame({"date_debut": pd.to_datetime(["2022-03-10"]),
                         "date_fin": pd.to_datetime(["2022-05-02"])})
    coverage = _coverage().of_tables(None, work)
    assert coverage.years == [2022] and "suivi" in coverage.source
    assert "3 mois sur 12" in coverage.check("2022")
    with pytest.raises(PeriodError, match="couvrent 2022"):
        coverage.check("2023")


def test_report_cli_refuses_a_period_outside_the_data(small_warehouse, capsys):
    from analysis.cli import main

    reports = config.paths().reports
    covered = _coverage().of_warehouse().years_fr
    for period in ("2012", "2030"):
        assert main(["report", "--period", period, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"aucune donnée pour la période {period}" in err
        assert f"les données couvrent {covered}" in err and "Traceback" not in err
        assert not (reports / period).exists()


@pytest.mark.slow
def test_a_partly_covered_period_is_rendered_with_the_warning(small_warehouse, tmp_path,
                                                                monkeypatch):
    """A warehouse whose contracts stop at the end of June: the 2025 sheet says so at its top."""
    source = (config.paths().processed / "warehouse").resolve()
    processed = tmp_path / "processed"
    shutil.copytree(source, processed / "warehouse")
    path = processed / "warehouse" / "contracts.parquet"
    contracts = pd.read_parquet(path)
    contracts.loc[contracts["dateNotification"] < "2025-07-01"].to_parquet(path)
    monkeypatch.setenv("OBSERVATOIRE_PROCESSED_DIR", str(processed))
    summary = reporting.render(territories=["93"], period="2025", jobs=1, progress=False,
                               reports_dir=tmp_path / "reports")
    assert not summary.failures, summary.failures[0].error
    text = summary.results[0].html.read_text(encoding="utf-8")
    assert "Période partiellement couverte" in text
    assert "juillet 2025 – décembre 2025" in text


# --- Re-runs -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_unchanged_rebuild_and_rerender_skips_every_report(small_raw, tmp_path, monkeypatch):
    """Build, render, build again (the sources now come from the build cache), render again:
    nothing is rendered twice and no empty staging folder is left."""
    from analysis.warehouse import build

    processed, reports = tmp_path / "processed", tmp_path / "reports"
    monkeypatch.setenv("OBSERVATOIRE_PROCESSED_DIR", str(processed))
    build(raw=small_raw, processed=processed, today=TODAY, progress=False)
    first = reporting.render(territories=["93"], period="2025-T2", jobs=1, progress=False,
                             reports_dir=reports)
    assert not first.failures and not first.skipped
    build(raw=small_raw, processed=processed, today=TODAY, progress=False)
    manifest = json.loads((processed / "warehouse" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["sources"].values()) == {"cache"}  # the second build did reuse the cache
    again = reporting.render(territories=["93"], period="2025-T2", jobs=1, progress=False,
                             reports_dir=reports)
    assert [r.skipped for r in again.results] == [True]
    assert not (reports / reporting.STAGING).exists()


def test_staging_folder_is_removed_once_empty(tmp_path):
    staging = tmp_path / reporting.STAGING
    (staging / "2025-93-fiche_departementale-999999999").mkdir(parents=True)
    reporting.clean_staging(tmp_path)
    assert not staging.exists()
    (staging / f"2025-93-fiche_departementale-{os.getpid()}").mkdir(parents=True)
    reporting.clean_staging(tmp_path)  # a live run's folder stays
    assert staging.is_dir()


# --- JupyterLab ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_the_normalised_metadata_and_no_outputs(path):
    NOTEBOOK_METADATA = _notebooks().NOTEBOOK_METADATA
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert notebook.metadata == NOTEBOOK_METADATA
    assert notebook.metadata["kernelspec"]["name"] == "observatoire"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name
    # The bytes a Jupyter server writes for it: saving it unchanged changes nothing.
    assert nbformat.writes(notebook, version=nbformat.NO_CONVERT) + "\n" == \
        path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS[-1:], ids=lambda p: p.name)
def test_a_jupyterlab_save_of_an_opened_notebook_leaves_it_unchanged(path, tmp_path):
    """What JupyterLab sends when it autosaves a notebook it only opened — the kernel's full
    ``language_info`` with the Python version, perhaps another kernel's name — goes through the
    Jupyter server's contents manager with the hook of ``make lab``: same bytes as committed."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    NOTEBOOK_METADATA, pre_save_hook = _notebooks().NOTEBOOK_METADATA, _notebooks().pre_save_hook
    shutil.copy(path, tmp_path / path.name)
    manager = FileContentsManager(root_dir=str(tmp_path))
    manager.pre_save_hook = pre_save_hook
    model = manager.get(path.name)
    content = copy.deepcopy(model["content"])
    content["metadata"]["kernelspec"] = {"display_name": "Python 3 (ipykernel)",
                                         "language": "python", "name": "python3"}
    content["metadata"]["language_info"] = {
        **NOTEBOOK_METADATA["language_info"], "version": "3.12.7"}
    content["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    manager.save({"type": "notebook", "format": "json", "content": content}, path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_lab_configuration_installs_the_hook():
    """``make lab`` passes jupyter_lab_config.py, which sets the pre-save hook; as root it adds
    --allow-root."""
    from traitlets.config import Config, PyFileConfigLoader

    loader = PyFileConfigLoader("jupyter_lab_config.py", path=str(config.ROOT))
    loaded = loader.load_config()
    assert isinstance(loaded, Config)
    assert loaded.ContentsManager.pre_save_hook is _notebooks().pre_save_hook
    dry = subprocess.run(["make", "-n", "-s", "lab"], cwd=config.ROOT, capture_output=True,
                         text=True, check=True).stdout
    lab = [line for line in dry.splitlines() if "jupyter lab" in line]
    assert lab and "--config=jupyter_lab_config.py" in lab[0]
    assert ("--allow-root" in lab[0]) == (os.getuid() == 0)


def test_report_fingerprint_ignores_notebook_metadata_and_outputs(tmp_path):
    source = next(p for p in NOTEBOOKS if p.name != reporting.EXPLORER)  # a report template
    notebook = nbformat.read(source, as_version=nbformat.NO_CONVERT)
    notebook.metadata["language_info"]["version"] = "3.12.7"
    notebook.metadata["kernelspec"]["name"] = "python3"
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="x")]
    nbformat.write(notebook, tmp_path / source.name)
    assert reporting.notebook_fingerprint(tmp_path / source.name) == \
        reporting.notebook_fingerprint(source)
    notebook.cells[1].source += "\n# changed"
    nbformat.write(notebook, tmp_path / source.name)
    assert reporting.notebook_fingerprint(tmp_path / source.name) != \
        reporting.notebook_fingerprint(source)


def test_reports_execute_in_a_kernel_that_exists_without_make_lab():
    """The notebooks name ``observatoire`` (registered by ``make lab`` only); reports are executed
    in :data:`reporting.KERNEL`, which a bare install has."""
    from jupyter_client.kernelspec import KernelSpecManager

    assert reporting.KERNEL in KernelSpecManager().find_kernel_specs()


def test_key_figures_carry_their_own_style():
    """JupyterLab shows a cell's HTML without the report template's style sheet."""
    from analysis.publish import open_report

    report = open_report("fiche_departementale", "93", "2025", 0.3)
    report.key_figure("des marchés <notifiés>", "26,7 %", "164 sur 614")
    page = report.key_figures_html().data
    assert 'class="obs-keys" style="display: grid;' in page
    assert 'class="obs-key-value" style="font-size: 1.6rem;' in page
    assert "&lt;notifiés&gt;" in page
