"""Weights and first-chart times of the interactive site (issue 17, point 1).

    python -m benchmarks.site [--reports DIR] [--runs N]

Opens every theme page of ``<reports>/site/`` (default: the reports folder in force) *N* times in
headless Chromium, from the file system with every network scheme blocked, each time in a new tab
state (``about:blank`` between loads), and reads ``performance.mark('first-chart')``: the time
from navigation to the first chart drawn with its data. Writes
``benchmarks/results/<date>-site-<commit>.json`` (machine, every sample, the pages' weights: the
page with the scripts and style it loads) and prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from analysis import config, site

RESULTS = Path(__file__).parent / "results"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--window-size=1280,1024")
BLOCKED = ("http://*", "https://*", "ws://*", "wss://*", "ftp://*")


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(BLOCKED)})
    return driver


def first_chart_ms(driver, page: Path, timeout: float = 15.0) -> float | None:
    """Load ``page``; the ``first-chart`` mark (ms after navigation), None when never set."""
    driver.get("about:blank")
    driver.get(page.as_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mark = driver.execute_script(
            "var m = performance.getEntriesByName('first-chart');"
            "return m.length ? m[0].startTime : null")
        if mark is not None:
            return float(mark)
        time.sleep(0.02)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    reports = Path(args.reports or config.paths().reports)
    pages = site.site_pages(reports)
    if not pages:
        print(f"aucune page du site dans {reports / config.SITE_FOLDER}")
        return 2
    load = os.getloadavg()[0]
    driver = _driver()
    out = {}
    try:
        for _theme, page in pages:
            samples = [first_chart_ms(driver, page) for _ in range(args.runs)]
            out[page.name] = {"bytes": site.page_weight(page), "first_chart_ms": samples}
    finally:
        driver.quit()
    total = sum(p.stat().st_size for p in (reports / config.SITE_FOLDER).rglob("*")
                if p.is_file())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip() or "unknown"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    chromium = subprocess.run([shutil.which("chromium") or "chromium", "--version"],
                              capture_output=True, text=True).stdout.strip()
    result = {"date": now.isoformat(), "commit": commit, "load_at_start": round(load, 2),
              "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                          "browser": chromium},
              "reports": str(reports), "site_bytes": total, "runs": args.runs, "pages": out}
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{now.strftime('%Y-%m-%dT%H%M%S')}-site-{commit}.json"
    target.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"| page | poids (Ko, avec les scripts) | premier graphique, médiane (ms) | max (ms) |")
    print("|---|---|---|---|")
    for name, page in out.items():
        times = [t for t in page["first_chart_ms"] if t is not None]
        median = f"{statistics.median(times):.0f}" if times else "jamais"
        worst = f"{max(times):.0f}" if times else "—"
        print(f"| `{name}` | {page['bytes'] / 1000:.0f} | {median} | {worst} |")
    print(f"\nSite entier : {total / 1e6:.2f} Mo ; charge au départ {load:.1f} ; "
          f"résultats : `benchmarks/results/{target.name}`.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
