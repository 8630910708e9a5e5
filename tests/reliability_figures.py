"""The figures of docs/reliability.md (ingestion): every fault of the corpus, and a generated data
set, run through ``observatoire build``; records counted in the raw files by this script itself.

    .venv/bin/python tests/reliability_figures.py [--scale 0.01] [--json figures.json]

Writes only in a temporary folder. Prints a Markdown summary.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pandas as pd  # noqa: E402

from corpus import FAULTS, TEST_KEY, count_raw, write_corpus  # noqa: E402


def build(raw: Path, processed: Path) -> tuple[int, str, bool]:
    """``observatoire build`` in this process; (exit code, output, traceback seen)."""
    from analysis.cli import main

    os.environ["OBSERVATOIRE_PROCESSED_DIR"] = str(processed)
    out, err = io.StringIO(), io.StringIO()
    traceback = False
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["build", "--raw", str(raw), "--quiet"])
        except BaseException:  # noqa: BLE001
            code, traceback = -1, True
    text = out.getvalue() + err.getvalue()
    return code, text, traceback or "Traceback" in text


def tally(raw: Path, processed: Path) -> dict:
    folder = processed / "warehouse"
    acc = pd.read_parquet(folder / "accounting.parquet")
    counted = count_raw(raw)
    read = acc.assign(file=acc["file"].str.split("#").str[0]).groupby("file")["read"].sum()
    accounted = acc.assign(file=acc["file"].str.split("#").str[0]).groupby("file")[
        ["kept", "rejected", "merged"]].sum().sum(axis=1)
    lost = sum(counted[f] - int(accounted.get(f, 0)) for f in counted)
    return {"files": len(counted), "records": sum(counted.values()),
            "read": int(read.sum()), "kept": int(acc["kept"].sum()),
            "rejected": int(acc["rejected"].sum()), "merged": int(acc["merged"].sum()),
            "warnings": len(pd.read_parquet(folder / "rejects" / "warnings.parquet")),
            "lost": lost}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    os.environ["OBSERVATOIRE_PSEUDO_KEY"] = TEST_KEY
    root = Path(tempfile.mkdtemp(prefix="observatoire-figures-"))
    figures: dict = {"faults": []}
    try:
        base_raw = write_corpus(root / "corpus")
        code, _, _ = build(base_raw, root / "base")
        assert code == 0
        for fault in FAULTS:
            raw, processed = root / fault.name / "raw", root / fault.name / "processed"
            shutil.copytree(base_raw, raw)
            shutil.copytree(root / "base", processed, symlinks=True)
            before = (processed / "warehouse").resolve()
            fault.inject(raw)
            code, text, traceback = build(raw, processed)
            row = {"fault": fault.name, "level": fault.level, "exit": code,
                   "traceback": traceback, "names_file": fault.file in text}
            if code == 0:
                row.update(tally(raw, processed))
            else:
                row["previous_kept"] = (processed / "warehouse").resolve() == before
                row["files"] = sum(1 for p in raw.rglob("*") if p.is_file())
            figures["faults"].append(row)
        from analysis.synthetic import generate

        started = time.perf_counter()
        generate(root / "generated", seed=7, first_year=2019, last_year=2025, scale=args.scale)
        code, text, traceback = build(root / "generated", root / "generated-processed")
        assert code == 0 and not traceback
        figures["generated"] = {"scale": args.scale, "seconds": round(time.perf_counter() - started, 1),
                                **tally(root / "generated", root / "generated-processed")}
    finally:
        shutil.rmtree(root, ignore_errors=True)

    faults = figures["faults"]
    stopped = [f for f in faults if f["exit"] == 2]
    completed = [f for f in faults if f["exit"] == 0]
    summary = {
        "faults injected": len(faults),
        "builds stopped with a message naming the file (exit 2)": len(stopped),
        "... of which the previous warehouse stayed in force": sum(f["previous_kept"] for f in stopped),
        "builds completed with the fault quarantined or reported": len(completed),
        "files tried (corpus copies)": sum(f["files"] for f in faults),
        "records counted in the raw files (completed builds)": sum(f["records"] for f in completed),
        "records rejected (completed builds)": sum(f["rejected"] for f in completed),
        "records merged (completed builds)": sum(f["merged"] for f in completed),
        "warnings (completed builds)": sum(f["warnings"] for f in completed),
        "tracebacks": sum(f["traceback"] for f in faults),
        "other exit codes": sum(f["exit"] not in (0, 2) for f in faults),
        "messages not naming the file": sum(not f["names_file"] for f in stopped),
        "records lost": sum(f["lost"] for f in completed),
    }
    figures["summary"] = summary
    print("| figure | value |\n|---|---|")
    for name, value in summary.items():
        print(f"| {name} | {value} |")
    g = figures["generated"]
    print(f"\nGenerated data set (scale {g['scale']}, seed 7, 2019-2025): {g['files']} files, "
          f"{g['records']} records counted = {g['kept']} kept + {g['rejected']} rejected + "
          f"{g['merged']} merged; {g['warnings']} warnings; records lost: {g['lost']} "
          f"(generation + build {g['seconds']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False),
                                   encoding="utf-8")
    ok = (summary["tracebacks"] == 0 and summary["records lost"] == 0 and g["lost"] == 0
          and summary["other exit codes"] == 0 and summary["messages not naming the file"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
