"""The command line: both entry points, clear errors, non-zero exits."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analysis.cli import main


def test_python_dash_m_analysis_help():
    out = subprocess.run([sys.executable, "-m", "analysis", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("generate", "build", "report", "reference"):
        assert command in out


def test_build_on_a_missing_folder_fails_clearly(tmp_path, capsys):
    assert main(["build", "--raw", str(tmp_path / "absent"), "--quiet"]) == 2
    assert "introuvable" in capsys.readouterr().err


def test_build_then_summary(small_raw, capsys):
    assert main(["build", "--raw", str(small_raw), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "gardés" in out and "rejetés" in out and "doublons fusionnés" in out


def test_generate_writes_where_told(tmp_path, capsys):
    assert main(["generate", "--seed", "3", "--scale", "0.05", "--years", "2024-2025",
                 "--out", str(tmp_path / "g")]) == 0
    assert list((tmp_path / "g" / "decp").rglob("*.json"))
    assert "2024-2025" in capsys.readouterr().out


def test_unknown_territory_is_refused(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["report", "--territory", "69"])
    assert caught.value.code == 2
    assert "territoire inconnu" in capsys.readouterr().err


def test_opendata_command_without_reports_writes_no_package(small_warehouse, tmp_path,
                                                             monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_REPORTS_DIR", str(tmp_path / "reports"))
    assert main(["opendata"]) == 0
    out = capsys.readouterr().out
    assert "aucun paquet" in out and "Index des rapports" in out
    assert not (tmp_path / "reports" / "donnees").exists()
    assert main(["opendata", "--suppression-k", "2"]) == 2
    assert "inférieur au seuil" in capsys.readouterr().err
