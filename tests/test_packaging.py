"""Project hygiene: the two package lists agree, notebooks carry no outputs, the Makefile documents itself."""

from __future__ import annotations

import json
import re
import tomllib

from analysis import config

ROOT = config.ROOT
#: conda-forge names that differ from PyPI's.
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        names |= {_name(r) for r in extra}
    return names


def environment_packages() -> set[str]:
    names: set[str] = set()
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped:
            continue
        if re.match(r"^\S", stripped):
            in_deps = stripped.startswith("dependencies:")
            continue
        if not in_deps:
            continue
        item = stripped.strip()
        if item.startswith("- pip:"):
            continue
        if not item.startswith("- "):
            continue
        value = item[2:].strip()
        if value.startswith("-e") or value in {"pip"} or _name(value) == "python":
            continue
        names.add(CONDA_TO_PYPI.get(_name(value), _name(value)))
    return names


def test_environment_and_pyproject_list_the_same_packages():
    assert environment_packages() == pyproject_packages()


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name}: sorties enregistrées"
                assert cell.get("execution_count") is None, f"{path.name}: compteur d'exécution"


def test_parameters_cells_are_tagged_typed_and_commented():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        for line in "".join(tagged[0]["source"]).splitlines():
            assert re.match(r"^\w+: \w+ = .+  # .+", line), f"{path.name}: {line!r}"


def test_makefile_targets_are_documented():
    text = (ROOT / "Makefile").read_text()
    documented = set(re.findall(r"^([a-z]+):.*## ", text, flags=re.M))
    assert {"setup", "data", "build", "reports", "test", "lab", "clean", "help"} <= documented
    assert ".DEFAULT_GOAL := help" in text


def test_ci_and_readme_use_the_two_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make reports" in readme and "make test" in readme


def test_no_path_literal_outside_config():
    offenders = []
    for path in (ROOT / "src" / "analysis").rglob("*.py"):
        if path.name == "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"[\"'](data/(raw|processed)|reports/)", text):
            offenders.append(path.name)
    assert offenders == []
