"""The documentation a new user reads cites paths that exist, and lists every make target."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from analysis import config

ROOT = config.ROOT
#: The folders of the repository a doc may point into; paths under them must exist.
TRACKED = ("src/", "tests/", "docs/", "notebooks/", "benchmarks/", "data/raw/reference/")
#: Generated locations (ignored by git): a path under them need not exist in a clone, but the
#: folder that holds it must.
GENERATED = ("data/raw/synthetic", "data/processed/", "reports/", "benchmarks/.data/")


def documents() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    return [ROOT / name for name in listed]


def cited_paths(text: str) -> list[str]:
    """Paths quoted in code spans (`…`) or used as link targets (](…))."""
    found = []
    for match in re.finditer(r"`([^`\s]+)`|\]\(([^)\s]+)\)", text):
        token = (match.group(1) or match.group(2)).split("::")[0].split("#")[0].rstrip(":,.;")
        if not token or token.startswith(("http:", "https:", "mailto:")):
            continue
        if "/" in token or token.startswith("~"):
            found.append(token)
    return found


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_paths_inside_the_repository_that_exist(doc):
    text = doc.read_text(encoding="utf-8")
    wrong = []
    for path in cited_paths(text):
        if path.startswith(("/", "~", "../")) or "/../" in path:
            wrong.append(f"{path} (hors du dépôt)")
            continue
        if any(mark in path for mark in "<>*{}…$|"):
            continue  # a pattern, not a path
        if path.startswith(GENERATED):
            holder = next(g for g in GENERATED if path.startswith(g)).rstrip("/")
            if not (ROOT / holder).parent.exists():
                wrong.append(path)
        elif path.startswith(TRACKED) and not (ROOT / path).exists():
            wrong.append(path)
    assert not wrong, f"{doc.relative_to(ROOT)} cite : {', '.join(wrong)}"


def test_readme_lists_every_make_target():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = re.findall(r"^([a-z][a-zA-Z_-]*):.*## ", makefile, re.M)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `make ([a-z][a-zA-Z_-]*)` \|", readme, re.M)
    assert targets and sorted(set(targets) - {"help"}) == sorted(listed)
