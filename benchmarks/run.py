"""Benchmarks of the observatory: ``python -m benchmarks.run [ingest] [tabular] [build] [render]
[pipeline] [buyers] [regions]``.

Every measured case runs in a fresh process; the runner takes its wall time and its peak resident
memory from ``wait4`` (the largest process of the tree for commands that fan out). Each figure is
the median of the runs made (the count is written next to it). Results go to
``benchmarks/results/<date>-<commit>.json`` and to the table of ``docs/performance.md`` between its
markers. Inputs are made by the generator once and cached in ``benchmarks/.data/`` (git-ignored),
keyed by the generator's parameters and code.

Two budgets: the default one makes three runs of every case except the scale-10 pipeline (one
run) and the naive rendering (one run on a sample of one job per notebook kind, extrapolated),
and leaves out the 1 M-record DuckDB floor (orjson's is the faster floor); ``--full``
(``make bench BENCH_FULL=1``) makes three runs of everything, adds the rendering with a fresh
kernel per report and the separate scale-10 builds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
#: Generated inputs (cached); ``BENCH_DATA`` puts them elsewhere (the 5 M-row table is ≈ 1 GB).
DATA = Path(os.environ.get("BENCH_DATA") or BENCH / ".data")
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
SEED = 20261123

#: DECP ingest sizes: label → generator scale (one consolidated file, 2018-2025; scale 7.82 gives
#: 1,022,986 records with the default seed).
INGEST_SIZES = {"10k": 0.0782, "100k": 0.782, "1M": 7.82}
TARGETS = {"ingest_floor_share": 0.5, "ingest_vs_naive": 5.0, "ingest_1m_peak_gb": 4.0,
           "pipeline_s10_seconds": 600.0, "render_vs_floor": 1.5, "render_vs_naive": 5.0}


# --- Measuring -------------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """A path for the log: from the repository when inside it (``BENCH_DATA`` may be outside)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def measure(cmd: list[str], env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Run ``cmd`` in a fresh process: wall time, CPU, peak RSS (``wait4``), and its JSON line."""
    full_env = {**os.environ, **(env or {})}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} a échoué ({proc.returncode}) :\n"
                           f"{stderr[-3000:]}")
    result = {"wall_s": wall, "user_s": usage.ru_utime, "sys_s": usage.ru_stime,
              "peak_rss_mb": usage.ru_maxrss / 1024}
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            result.update(json.loads(line))
            break
    if result.get("helpers"):
        # A reading with helper processes: ``wait4`` gives the largest of the processes, not
        # their sum. Counted: the process's peak plus each helper at the largest helper's peak
        # (an upper bound: pages the helpers share with it are counted twice).
        result["process_peak_rss_mb"] = result["peak_rss_mb"]
        result["peak_rss_mb"] += result["helpers"] * result["helpers_peak_kib"] / 1024
    return result


#: ``--runs N``: this many runs of every case instead of the budget's (``None``: the budget's).
RUNS: int | None = None


def repeat(label: str, runs: int, make_cmd, env_fn=None, log=print) -> dict:
    """``runs`` measurements of one case (:data:`RUNS` when set) and their medians."""
    runs = RUNS or runs
    samples = []
    for i in range(runs):
        env, cleanup = (env_fn() if env_fn else ({}, None))
        try:
            samples.append(measure(make_cmd(), env))
        finally:
            if cleanup:
                cleanup()
        s = samples[-1]
        log(f"  {label} run {i + 1}/{runs}: {s['wall_s']:.1f} s wall, "
            f"{s.get('seconds', s['wall_s']):.2f} s timed, {s['peak_rss_mb']:.0f} Mo")
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float))]
    median = {k: statistics.median(s[k] for s in samples) for k in keys}
    return {"runs": runs, "median": median, "samples": samples}


def _scratch() -> tuple[dict, callable]:
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {"OBSERVATOIRE_PROCESSED_DIR": str(folder / "processed"),
           "OBSERVATOIRE_REPORTS_DIR": str(folder / "reports")}
    return env, lambda: shutil.rmtree(folder, ignore_errors=True)


# --- Inputs (cached) -------------------------------------------------------------------------------


def _generator_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "analysis" / "synthetic").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def dataset(scale: float, decp_only: bool, log=print, layout: str = "consolidated") -> Path:
    """A generated data set, cached under ``benchmarks/.data/`` by its parameters (with
    ``decp_only``, the DECP alone in one file laid out as ``layout``)."""
    kind = ("decp-consolidated" if layout == "consolidated" else f"decp-{layout}") \
        if decp_only else "full"
    folder = DATA / f"{kind}-s{scale:g}-seed{SEED}-g{_generator_hash()}"
    if (folder / ".complete").is_file():
        return folder
    log(f"  génération des entrées ({kind}, échelle {scale:g}) dans {folder}")
    shutil.rmtree(folder, ignore_errors=True)
    cmd = [str(BIN / "observatoire"), "generate", "--out", str(folder), "--seed", str(SEED),
           "--scale", str(scale)]
    if decp_only:
        cmd += ["--sources", "decp", "--decp-layout", layout]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    (folder / ".complete").write_text("ok\n")
    return folder


def _records(folder: Path) -> int:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return int(manifest["sources"]["decp"]["counts"]["records_published"])


# --- Benchmarks ------------------------------------------------------------------------------------


def bench_ingest(full: bool, log=print) -> dict:
    out = {}
    for label, scale in INGEST_SIZES.items():
        folder = dataset(scale, decp_only=True, log=log)
        path = folder / "decp" / "decp_consolide.json"
        records = _records(folder)
        big = label == "1M"
        runs = 3
        log(f"Ingestion DECP {label} : {records} enregistrements, "
            f"{path.stat().st_size / 1e6:.0f} Mo, {RUNS or runs} exécution(s)")
        cases = {}
        # At 1 M records the DuckDB floor (3× slower than orjson's) is measured in --full only:
        # the parse floor is the faster of the two.
        chosen = ("ingest-ours", "ingest-naive", "floor-orjson") if big and not full else (
            "ingest-ours", "ingest-naive", "floor-orjson", "floor-duckdb")
        for case in chosen:
            cases[case] = repeat(case, runs, lambda c=case: [PYTHON, "-m", "benchmarks.probes",
                                                            c, str(path)], log=log)
        if full or not big:
            cases["build-ours"] = repeat(
                "build-ours", runs,
                lambda: [str(BIN / "observatoire"), "build", "--raw", str(folder), "--no-cache",
                         "--quiet"], _scratch, log=log)
        for case in cases.values():
            timed = case["median"].get("seconds", case["median"]["wall_s"])
            case["records_per_s"] = records / timed
        out[label] = {"records": records, "bytes": path.stat().st_size, "cases": cases}
    return out


#: The national consolidated table (decp-processing's Parquet layout): label → generator scale.
TABULAR_SIZES = {"1M": 7.82}
#: The streamed case: the 1 M-contract table copied (``uid`` and ``id`` suffixed by the copy)
#: up to this many rows, whole contracts only.
TABULAR_LARGE_ROWS = 5_000_000
TABULAR_TARGETS = {"rows_per_s": 300_000, "peak_gb": 3.0, "large_peak_gb": 4.0}


def large_table(log=print) -> Path:
    """A consolidated table of :data:`TABULAR_LARGE_ROWS` rows made of copies of the generated
    1 M-contract one (cached like the generated inputs); written copy by copy in row groups of
    100 000 rows, as the generator writes them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source_folder = dataset(TABULAR_SIZES["1M"], decp_only=True, log=log, layout="tabular")
    source = source_folder / "decp" / "decp_consolide.parquet"
    folder = DATA / f"decp-tabular-{TABULAR_LARGE_ROWS // 1_000_000}Mrows-{source_folder.name}"
    path = folder / "decp" / "decp_consolide.parquet"
    if (folder / ".complete").is_file():
        return path
    log(f"  copie de la table consolidée jusqu'à {TABULAR_LARGE_ROWS} lignes dans {folder}")
    shutil.rmtree(folder, ignore_errors=True)
    path.parent.mkdir(parents=True)
    table = pq.read_table(source)
    uid = table["uid"].combine_chunks()
    # Whole contracts only: the last copy stops at the last uid boundary under the target.
    boundaries = pc.not_equal(uid.slice(1), uid.slice(0, len(uid) - 1)).to_numpy(
        zero_copy_only=False).nonzero()[0] + 1
    written, copy = 0, 0
    with pq.ParquetWriter(path, table.schema) as writer:
        while written < TABULAR_LARGE_ROWS:
            room = TABULAR_LARGE_ROWS - written
            part = table
            if room < len(table):
                part = table.slice(0, int(boundaries[boundaries <= room].max()))
            if copy:
                suffix = pa.scalar(f"-c{copy}", part.schema.field("uid").type)
                for name in ("uid", "id"):
                    column = part[name]
                    part = part.set_column(part.schema.get_field_index(name), name,
                                           pc.binary_join_element_wise(column, suffix, ""))
            writer.write_table(part, row_group_size=100_000)
            written += len(part)
            copy += 1
            if room < len(table):
                break
    (folder / ".complete").write_text("ok\n")
    return path


def bench_tabular(full: bool, log=print) -> dict:
    """The build's DECP path on the consolidated Parquet table: rows read per second (one row
    per contract, state and supplier), peak memory; at 1 M contracts (three runs) and at
    :data:`TABULAR_LARGE_ROWS` rows, streamed by parts (one run, three with ``--full``)."""
    out = {}
    inputs = {label: dataset(scale, decp_only=True, log=log, layout="tabular") / "decp"
              / "decp_consolide.parquet" for label, scale in TABULAR_SIZES.items()}
    inputs[f"{TABULAR_LARGE_ROWS // 1_000_000}M lignes"] = large_table(log)
    for label, path in inputs.items():
        runs = 3 if full or label in TABULAR_SIZES else 1
        log(f"Ingestion DECP, table consolidée Parquet {label} : "
            f"{path.stat().st_size / 1e6:.0f} Mo, {RUNS or runs} exécution(s)")
        case = repeat("ingest-ours", runs, lambda p=path: [
            PYTHON, "-m", "benchmarks.probes", "ingest-ours", str(p)], log=log)
        med = case["median"]
        case["rows_per_s"] = med["records"] / med.get("seconds", med["wall_s"])
        out[label] = {"contracts": int(med["kept"]), "rows": int(med["records"]),
                      "bytes": path.stat().st_size, "case": case}
    return out


#: The national table of the comparison of régions (``observatoire generate-national``).
NATIONAL_CONTRACTS = 1_000_000
REGIONS_TARGETS = {"seconds": 300.0, "peak_gb": 4.0}


def national_table(log=print) -> Path:
    """A national consolidated DECP of :data:`NATIONAL_CONTRACTS` contracts, every région's
    buyers (cached like the other inputs)."""
    folder = DATA / f"national-{NATIONAL_CONTRACTS}-seed{SEED}-g{_generator_hash()}"
    path = folder / "decp_national.parquet"
    if (folder / ".complete").is_file():
        return path
    log(f"  génération de la DECP nationale ({NATIONAL_CONTRACTS} marchés) dans {folder}")
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([str(BIN / "observatoire"), "generate-national", "--out", str(folder),
                    "--contracts", str(NATIONAL_CONTRACTS), "--seed", str(SEED)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    (folder / ".complete").write_text("ok\n")
    return path


def bench_regions(full: bool, log=print) -> dict:
    """France's régions compared from a 1 M-contract national table: the reading and every
    indicator without a kernel, then the report rendered as ``observatoire report`` renders it
    (its kernel reads the table itself: reading included). One run each (three with
    ``--full``)."""
    path = national_table(log)
    runs = 3 if full else 1
    log(f"Régions comparées, DECP nationale {NATIONAL_CONTRACTS} marchés : "
        f"{path.stat().st_size / 1e6:.0f} Mo, {RUNS or runs} exécution(s)")
    cases = {
        "regions-compute": repeat("regions-compute", runs, lambda: [
            PYTHON, "-m", "benchmarks.probes", "regions-compute", str(path)], log=log),
        "regions-report": repeat("regions-report", runs, lambda: [
            PYTHON, "-m", "benchmarks.probes", "regions-report", str(path)], _scratch, log=log),
    }
    med = cases["regions-compute"]["median"]
    return {"contracts": int(med["kept"]), "rows": int(med["records"]),
            "bytes": path.stat().st_size, "cases": cases}


def bench_build(full: bool, log=print) -> dict:
    folder = dataset(1.0, decp_only=False, log=log)
    log("Construction de l'entrepôt, échelle 1")
    result = {"1": repeat("build s1", 3, lambda: [str(BIN / "observatoire"), "build", "--raw",
                                                 str(folder), "--no-cache", "--quiet"],
                          _scratch, log=log)}
    if full:
        folder10 = dataset(10.0, decp_only=False, log=log)
        log("Construction de l'entrepôt, échelle 10")
        result["10"] = repeat("build s10", 3, lambda: [str(BIN / "observatoire"), "build",
                                                       "--raw", str(folder10), "--no-cache",
                                                       "--quiet"], _scratch, log=log)
    return result


def _jobs() -> list:
    sys.path.insert(0, str(ROOT / "src"))
    from analysis import reporting

    return reporting.plan()


def _naive_commands(job, notebooks: Path, work: Path) -> list[list[str]]:
    """The papermill CLI then the nbconvert CLI, as someone would type them."""
    executed = work / f"{job.spec.notebook[:-6]}-{job.territory}.ipynb"
    cmd = [str(BIN / "papermill"), str(notebooks / job.spec.notebook), str(executed),
           "-k", "python3", "--cwd", str(ROOT), "--no-progress-bar"]
    for key, value in job.parameters().items():
        cmd += (["-r", key, value] if isinstance(value, str) else ["-p", key, json.dumps(value)])
    return [cmd, [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)]]


#: The notebooks of :func:`analysis.reporting.plan` and nothing else: without ``--report``,
#: ``observatoire report`` also renders the sheets of every actor, the open data and the site,
#: which the naive way and the floor below do not.
NOTEBOOK_REPORTS = ["--report", "themes", "--report", "rapport_annuel",
                    "--report", "fiche_departementale"]


def bench_render(full: bool, log=print) -> dict:
    folder = dataset(1.0, decp_only=False, log=log)
    base = Path(tempfile.mkdtemp(prefix="bench-render-"))
    env = {"OBSERVATOIRE_PROCESSED_DIR": str(base / "processed"),
           "OBSERVATOIRE_REPORTS_DIR": str(base / "reports"), "OBSERVATOIRE_RAW_DIR": str(folder)}
    try:
        log("Rendu : entrepôt de l'échelle 1")
        measure([str(BIN / "observatoire"), "build", "--raw", str(folder), "--quiet"], env)
        jobs = _jobs()
        cores = os.cpu_count() or 1
        runs = 3
        log(f"Rendu : {len(jobs)} rapports, {cores} cœurs")

        def ours_env():
            shutil.rmtree(base / "reports", ignore_errors=True)
            return env, None

        ours = repeat("observatoire report", runs,
                      lambda: [str(BIN / "observatoire"), "report", "--force", "--quiet",
                               *NOTEBOOK_REPORTS], ours_env, log=log)
        fresh = None
        if full:  # the same, one fresh kernel per report: what the warm kernels save
            fresh = repeat("observatoire report --fresh-kernels", runs,
                           lambda: [str(BIN / "observatoire"), "report", "--force", "--quiet",
                                    "--fresh-kernels", *NOTEBOOK_REPORTS], ours_env, log=log)

        notebooks = ROOT / "notebooks"
        sample = jobs if full else _sample(jobs)
        naive_runs = []
        for i in range(runs if full else 1):
            work = Path(tempfile.mkdtemp(prefix="bench-naive-"))
            total = 0.0
            peak = 0.0
            try:
                for job in sample:
                    for cmd in _naive_commands(job, notebooks, work):
                        m = measure(cmd, env)
                        total += m["wall_s"]
                        peak = max(peak, m["peak_rss_mb"])
            finally:
                shutil.rmtree(work, ignore_errors=True)
            per_job = total / len(sample)
            naive_runs.append({"wall_s": per_job * len(jobs), "measured_jobs": len(sample),
                               "measured_wall_s": total, "peak_rss_mb": peak})
            log(f"  naive run {i + 1}/{runs}: {total:.1f} s pour {len(sample)} rapport(s) "
                f"→ {per_job * len(jobs):.1f} s pour {len(jobs)}")
        naive = {"runs": len(naive_runs), "samples": naive_runs, "extrapolated": len(sample) < len(jobs),
                 "median": {k: statistics.median(r[k] for r in naive_runs)
                            for k in ("wall_s", "peak_rss_mb", "measured_wall_s")}}

        probes = {}
        for case in ("stack-import", "kernel-start"):
            probes[case] = repeat(case, 3, lambda c=case: [PYTHON, "-m", "benchmarks.probes", c],
                                  env_fn=lambda: (env, None), log=log)
        per_kernel = (probes["stack-import"]["median"]["seconds"]
                      + probes["kernel-start"]["median"]["seconds"])
        floor = len(jobs) * per_kernel / cores
        return {"jobs": len(jobs), "notebooks": sorted({j.spec.notebook for j in jobs}),
                "cores": cores, "ours": ours, "fresh": fresh, "naive": naive, "probes": probes,
                "per_kernel_s": per_kernel, "floor_s": floor}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _sample(jobs: list) -> list:
    """One job of each notebook (the default budget cannot afford the naive way on all)."""
    seen, sample = set(), []
    for job in jobs:
        if job.spec.notebook not in seen:
            seen.add(job.spec.notebook)
            sample.append(job)
    return sample[:3] if len(sample) > 3 else sample


def bench_pipeline(full: bool, log=print) -> dict:
    runs = 3 if full else 1
    samples = []
    for i in range(runs):
        base = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
        raw = base / "raw"
        env = {"OBSERVATOIRE_PROCESSED_DIR": str(base / "processed"),
               "OBSERVATOIRE_REPORTS_DIR": str(base / "reports"), "OBSERVATOIRE_RAW_DIR": str(raw)}
        try:
            steps = {
                "generate": measure([str(BIN / "observatoire"), "generate", "--out", str(raw),
                                     "--seed", str(SEED), "--scale", "10"], env),
                "build": measure([str(BIN / "observatoire"), "build", "--raw", str(raw),
                                  "--no-cache", "--quiet"], env),
                "report": measure([str(BIN / "observatoire"), "report", "--force", "--quiet"],
                                  env),
            }
        finally:
            shutil.rmtree(base, ignore_errors=True)
        total = sum(s["wall_s"] for s in steps.values())
        samples.append({"steps": steps, "wall_s": total,
                        "peak_rss_mb": max(s["peak_rss_mb"] for s in steps.values())})
        log(f"  pipeline échelle 10, run {i + 1}/{runs}: " + ", ".join(
            f"{k} {v['wall_s']:.0f} s ({v['peak_rss_mb']:.0f} Mo)" for k, v in steps.items())
            + f" ; total {total:.0f} s")
    median = {"wall_s": statistics.median(s["wall_s"] for s in samples),
              "peak_rss_mb": statistics.median(s["peak_rss_mb"] for s in samples)}
    for step in ("generate", "build", "report"):
        for key in ("wall_s", "peak_rss_mb"):
            median[f"{step}_{key}"] = statistics.median(s["steps"][step][key] for s in samples)
    return {"scale": 10, "runs": runs, "median": median, "samples": samples}


def _warehouse(scale: float, log=print) -> Path:
    """A warehouse built once from :func:`dataset` (full sources), cached beside it: the
    buyer-sheet case times the sheets from an existing warehouse, as ``make reports`` does."""
    raw = dataset(scale, decp_only=False, log=log)
    processed = raw.with_name(raw.name + "-processed")
    if not (processed / ".complete").is_file():
        log(f"  construction de l'entrepôt (échelle {scale:g}) dans {_shown(processed)}")
        shutil.rmtree(processed, ignore_errors=True)
        subprocess.run([str(BIN / "observatoire"), "build", "--raw", str(raw), "--quiet"],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       env={**os.environ, "OBSERVATOIRE_PROCESSED_DIR": str(processed)})
        (processed / ".complete").write_text("ok\n")
    return processed


def _many_buyers(processed: Path, buyers: int, log=print) -> Path:
    """A warehouse derived from ``processed`` whose contracts are re-split among ``buyers``
    buyers (each original buyer's contracts dealt round-robin to its « entités », same category
    and département): as many sheets as a real région's buyers, from the same contracts, hours
    and people. The generator's buyers list is fixed (99 at any scale), hence this derivation."""
    import pandas as pd

    out = processed.with_name(f"{processed.name}-{buyers}-acheteurs")
    if (out / ".complete").is_file():
        return out
    log(f"  entrepôt dérivé à {buyers} acheteurs dans {_shown(out)}")
    shutil.rmtree(out, ignore_errors=True)
    source, target = processed / "warehouse", out / "warehouse"
    target.mkdir(parents=True)
    for path in source.resolve().iterdir():
        if path.is_file() and path.name != "observatoire.duckdb":
            shutil.copy2(path, target / path.name)
    contracts = pd.read_parquet(target / "contracts.parquet")
    per_buyer = max(1, buyers // contracts["acheteur_id"].nunique())
    rank = contracts.groupby("acheteur_id").cumcount() % per_buyer
    entity = rank.astype(str).str.zfill(5)
    contracts["acheteur_id"] = contracts["acheteur_id"].astype(str).str[:9] + entity
    contracts["acheteur_nom"] = (contracts["acheteur_nom"].astype(str) + " — entité "
                                 + (rank + 1).astype(str))
    contracts.to_parquet(target / "contracts.parquet", index=False)
    (out / ".complete").write_text("ok\n")
    return out


def bench_buyers(full: bool, log=print) -> dict:
    """Every buyer sheet of the default data set (scale 1) from an existing warehouse, with
    ``observatoire report --report fiches_acheteurs --force``: one run (three with ``--full``)."""
    processed = _warehouse(1.0, log=log)
    log("Fiches acheteur, échelle 1")
    sizes: dict = {}

    def scratch():
        folder = Path(tempfile.mkdtemp(prefix="bench-buyers-"))
        env = {"OBSERVATOIRE_PROCESSED_DIR": str(processed),
               "OBSERVATOIRE_REPORTS_DIR": str(folder / "reports")}

        def cleanup():
            pages = list((folder / "reports" / "acheteurs").glob("*.html"))
            sizes.update(sheets=len(pages),
                         max_kb=max((p.stat().st_size for p in pages), default=0) / 1024)
            shutil.rmtree(folder, ignore_errors=True)
        return env, cleanup

    case = repeat("fiches acheteur s1", 3 if full else 1,
                  lambda: [str(BIN / "observatoire"), "report", "--report", "fiches_acheteurs",
                           "--force", "--quiet"], scratch, log=log)
    result = {"scale": 1, **sizes, "case": case}
    many = _many_buyers(processed, 3000, log=log)
    log("Fiches acheteur, 3 000 acheteurs")
    processed = many
    sizes.clear()
    case = repeat("fiches acheteur x3000", 1,
                  lambda: [str(BIN / "observatoire"), "report", "--report", "fiches_acheteurs",
                           "--force", "--quiet"], scratch, log=log)
    result["many"] = {**sizes, "case": case}
    return result


# --- Machine, results, table -----------------------------------------------------------------------


def machine() -> dict:
    from importlib import metadata

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    versions = {}
    for name in ("pandas", "numpy", "pyarrow", "duckdb", "orjson", "ijson", "msgspec", "python-calamine",
                 "openpyxl", "xlsxwriter", "papermill", "nbconvert", "nbclient", "ipykernel",
                 "dask", "distributed"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True,  # noqa: E731
                                    text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024 ** 2, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "packages": versions, "commit": git("rev-parse", "--short", "HEAD") or "?",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "load_average_at_start": os.getloadavg()}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}".replace(",", " ")


def _cpu(med: dict) -> str:
    """CPU time of the process tree's waited processes (user + system): less sensitive than wall
    time to other jobs sharing the machine."""
    if "user_s" not in med:
        return ""
    return _fmt(med["user_s"] + med.get("sys_s", 0.0))


def _verdict(ok: bool) -> str:
    return "atteint" if ok else "**manqué**"


def table(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Mesuré le {results['date'][:10]} sur {m['cpu']}, {m['cores']} cœurs, {m['ram_gb']} Go, "
        f"Python {m['python']}, commit `{m['commit']}`{' (+ modifications)' if m['dirty'] else ''}"
        f" ; charge moyenne au départ {m['load_average_at_start'][0]:.1f}. "
        f"Chaque chiffre : médiane de *n* exécutions (colonne n), chacune dans un processus neuf. "
        f"Résultats complets : `benchmarks/results/{results['file']}`.", "",
        "| mesure | cas | n | temps (s) | CPU (s) | débit (enr./s) | mémoire max (Mo) | comparaison |",
        "|---|---|---|---|---|---|---|---|",
    ]
    targets = []
    ingest = results.get("ingest", {})
    for label, size in ingest.items():
        cases = size["cases"]
        floors = {k: c for k, c in cases.items() if k.startswith("floor")}
        best = max(floors.values(), key=lambda c: c["records_per_s"])
        naive = cases["ingest-naive"]
        for name, case in cases.items():
            med = case["median"]
            if name == "ingest-ours":
                ratio_floor = case["records_per_s"] / best["records_per_s"]
                ratio_naive = case["records_per_s"] / naive["records_per_s"]
                note = (f"{ratio_floor:.0%} du plancher ; {ratio_naive:.1f}× le naïf")
                targets.append((f"Ingestion {label} : ≥ 50 % du plancher", ratio_floor >= 0.5,
                                f"{ratio_floor:.0%}"))
                targets.append((f"Ingestion {label} : ≥ 5× le naïf", ratio_naive >= 5,
                                f"{ratio_naive:.1f}×"))
                if label == "1M":
                    gb = med["peak_rss_mb"] / 1024
                    targets.append(("Ingestion 1M : < 4 Go", gb < 4, f"{gb:.2f} Go"))
            else:
                note = ""
            lines.append(f"| ingestion DECP {label} ({size['records']:,} enr.) | {name} | "
                         f"{case['runs']} | {_fmt(med.get('seconds', med['wall_s']), 2)} | "
                         f"{_cpu(med)} | "
                         f"{_fmt(case['records_per_s'], 0)} | {_fmt(med['peak_rss_mb'], 0)} | "
                         f"{note} |".replace(",", " "))
    for label, size in results.get("tabular", {}).items():
        case, med = size["case"], size["case"]["median"]
        contracts, rows = (f"{size[k]:,}".replace(",", " ") for k in ("contracts", "rows"))
        lines.append(f"| ingestion DECP, table consolidée Parquet {label} ({contracts} marchés, "
                     f"{rows} lignes) | ingest-ours | {case['runs']} | "
                     f"{_fmt(med.get('seconds', med['wall_s']), 2)} | {_cpu(med)} | "
                     f"{_fmt(case['rows_per_s'], 0)} lignes/s | {_fmt(med['peak_rss_mb'], 0)} | |")
        gb = med["peak_rss_mb"] / 1024
        if label in TABULAR_SIZES:
            targets.append((f"Table consolidée {label} : ≥ 300 000 lignes/s",
                            case["rows_per_s"] >= TABULAR_TARGETS["rows_per_s"],
                            f"{_fmt(case['rows_per_s'], 0)} lignes/s"))
            targets.append((f"Table consolidée {label} : < 3 Go",
                            gb < TABULAR_TARGETS["peak_gb"], f"{gb:.2f} Go"))
        else:
            targets.append((f"Table consolidée {label} (par parties) : < 4 Go",
                            gb < TABULAR_TARGETS["large_peak_gb"], f"{gb:.2f} Go"))
    regions = results.get("regions")
    if regions:
        contracts, rows = (f"{regions[k]:,}".replace(",", " ") for k in ("contracts", "rows"))
        labels = {"regions-compute": "lecture (chaîne DECP) + tous les indicateurs, sans noyau",
                  "regions-report": "`12_regions_comparees` rendu comme par `observatoire report`"
                                    " (noyau neuf ; lecture comprise)"}
        for name, case in regions["cases"].items():
            med = case["median"]
            read = (f"dont lecture {_fmt(med['read_seconds'])} s"
                    if "read_seconds" in med else "")
            lines.append(f"| régions comparées, DECP nationale ({contracts} marchés, {rows} "
                         f"lignes) | {labels[name]} | {case['runs']} | "
                         f"{_fmt(med.get('seconds', med['wall_s']))} | {_cpu(med)} | | "
                         f"{_fmt(med['peak_rss_mb'], 0)} | {read} |")
        med = regions["cases"]["regions-report"]["median"]
        targets.append(("Régions comparées 1M : lecture + rapport < 5 min",
                        med["wall_s"] < REGIONS_TARGETS["seconds"], f"{_fmt(med['wall_s'])} s"))
        gb = max(c["median"]["peak_rss_mb"] for c in regions["cases"].values()) / 1024
        targets.append(("Régions comparées 1M : < 4 Go", gb < REGIONS_TARGETS["peak_gb"],
                        f"{gb:.2f} Go"))
    for scale, case in results.get("build", {}).items():
        med = case["median"]
        lines.append(f"| construction de l'entrepôt | échelle {scale} | {case['runs']} | "
                     f"{_fmt(med['wall_s'])} | {_cpu(med)} | | {_fmt(med['peak_rss_mb'], 0)} | |")
    render = results.get("render")
    if render:
        ours, naive = render["ours"], render["naive"]
        o = ours["median"]["wall_s"]
        n = naive["median"]["wall_s"]
        vs_floor, vs_naive = o / render["floor_s"], n / o
        lines.append(f"| rendu de {render['jobs']} rapports | `observatoire report` (ces "
                     f"{render['jobs']} notebooks seuls : `--report`) | "
                     f"{ours['runs']} | {_fmt(o)} | {_cpu(ours['median'])} | | "
                     f"{_fmt(ours['median']['peak_rss_mb'], 0)} | "
                     f"{vs_floor:.2f}× le plancher ; naïf {vs_naive:.1f}× plus lent |")
        extra = (f" (extrapolé de {naive['samples'][0]['measured_jobs']} rapports mesurés)"
                 if naive["extrapolated"] else "")
        if render.get("fresh"):
            f = render["fresh"]["median"]
            lines.append(f"| rendu de {render['jobs']} rapports | `observatoire report "
                         f"--fresh-kernels` (un noyau neuf par rapport) | {render['fresh']['runs']} "
                         f"| {_fmt(f['wall_s'])} | {_cpu(f)} | | {_fmt(f['peak_rss_mb'], 0)} | "
                         f"{f['wall_s'] / render['floor_s']:.2f}× le plancher |")
        lines.append(f"| rendu de {render['jobs']} rapports | naïf : papermill puis nbconvert en "
                     f"CLI, l'un après l'autre{extra} | {naive['runs']} | {_fmt(n)} | | | "
                     f"{_fmt(naive['median']['peak_rss_mb'], 0)} | |")
        lines.append(f"| rendu de {render['jobs']} rapports | plancher : {render['jobs']} noyaux × "
                     f"{_fmt(render['per_kernel_s'], 2)} s (import de la pile "
                     f"{_fmt(render['probes']['stack-import']['median']['seconds'], 2)} s + "
                     f"démarrage du noyau "
                     f"{_fmt(render['probes']['kernel-start']['median']['seconds'], 2)} s) "
                     f"/ {render['cores']} cœurs | 3 | {_fmt(render['floor_s'])} | | | | |")
        targets.append(("Rendu : ≤ 1,5× le plancher", vs_floor <= 1.5, f"{vs_floor:.2f}×"))
        targets.append(("Rendu : ≥ 5× plus rapide que le naïf", vs_naive >= 5, f"{vs_naive:.1f}×"))
    buyers = results.get("buyers")
    if buyers:
        med = buyers["case"]["median"]
        lines.append(f"| fiches acheteur, échelle 1 ({buyers['sheets']} fiches, la plus lourde "
                     f"{_fmt(buyers['max_kb'], 0)} Ko) | `observatoire report --report "
                     f"fiches_acheteurs --force` | {buyers['case']['runs']} | "
                     f"{_fmt(med['wall_s'])} | {_cpu(med)} | | {_fmt(med['peak_rss_mb'], 0)} | |")
        targets.append(("Fiches acheteur du jeu par défaut < 5 min", med["wall_s"] < 300,
                        f"{_fmt(med['wall_s'], 0)} s"))
        targets.append(("Fiche acheteur < 400 Ko", buyers["max_kb"] < 400,
                        f"{_fmt(buyers['max_kb'], 0)} Ko"))
        many = buyers.get("many")
        if many:
            med = many["case"]["median"]
            lines.append(f"| fiches acheteur, contrats du jeu par défaut répartis entre "
                         f"{many['sheets']} acheteurs (la plus lourde {_fmt(many['max_kb'], 0)} "
                         f"Ko) | `observatoire report --report fiches_acheteurs --force` | "
                         f"{many['case']['runs']} | {_fmt(med['wall_s'])} | {_cpu(med)} | | "
                         f"{_fmt(med['peak_rss_mb'], 0)} | |")
            targets.append(("3 000 fiches acheteur < 15 min", med["wall_s"] < 900,
                            f"{_fmt(med['wall_s'], 0)} s"))
    pipe = results.get("pipeline")
    if pipe:
        med = pipe["median"]
        lines.append(f"| chaîne complète, échelle 10 | generate + build + report | {pipe['runs']} | "
                     f"{_fmt(med['wall_s'])} (generate {_fmt(med['generate_wall_s'])}, build "
                     f"{_fmt(med['build_wall_s'])}, report {_fmt(med['report_wall_s'])}) | | | "
                     f"{_fmt(med['peak_rss_mb'], 0)} | |")
        if "10" not in results.get("build", {}):
            lines.append(f"| construction de l'entrepôt | échelle 10 (l'étape build de la chaîne) | "
                         f"{pipe['runs']} | {_fmt(med['build_wall_s'])} | | | "
                         f"{_fmt(med['build_peak_rss_mb'], 0)} | |")
        targets.append(("Chaîne échelle 10 < 10 min", med["wall_s"] < 600,
                         f"{_fmt(med['wall_s'], 0)} s"))
    if targets:
        lines += ["", "| objectif | mesuré | verdict |", "|---|---|---|"]
        lines += [f"| {name} | {value} | {_verdict(ok)} |" for name, ok, value in targets]
    lines += ["", f"Durée totale de ce `make bench` : {_fmt(results['seconds'], 0)} s "
              f"({'budget complet' if results['full'] else 'budget par défaut'})."]
    return "\n".join(lines)


def write_doc(results: dict) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else (
        f"# Performance\n\n{BEGIN}\n{END}\n")
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    _atomic_write(DOC, f"{head}{BEGIN}\n{table(results)}\n{END}{tail}")


BENCHES = {"ingest": bench_ingest, "tabular": bench_tabular, "build": bench_build,
           "render": bench_render, "pipeline": bench_pipeline, "buyers": bench_buyers,
           "regions": bench_regions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("benches", nargs="*", metavar="BENCH",
                        help=f"benchmarks to run, among {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--full", action="store_true",
                        help="three runs of every case (about an hour on 2 cores)")
    parser.add_argument("--runs", type=int, metavar="N",
                        help="N runs of every case instead of the budget's (e.g. 1 for a quick look)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--table-from", metavar="JSON",
                        help="only rewrite the table of docs/performance.md from a results file")
    args = parser.parse_args(argv)
    if args.table_from:
        results = json.loads(Path(args.table_from).read_text(encoding="utf-8"))
        write_doc(results)
        print(table(results))
        return 0
    global RUNS
    RUNS = args.runs
    chosen = args.benches or list(BENCHES)
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        parser.error(f"benchmark(s) inconnu(s) : {', '.join(unknown)} ({', '.join(BENCHES)})")
    started = time.perf_counter()
    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "full": args.full, "targets": TARGETS}
    results["file"] = (f"{results['date'][:19].replace(':', '')}-{results['machine']['commit']}"
                       f"{'-full' if args.full else ''}.json")
    for name in chosen:
        results[name] = BENCHES[name](args.full)
        _atomic_write(RESULTS / results["file"], json.dumps(results, indent=1, default=str))
    results["seconds"] = time.perf_counter() - started
    _atomic_write(RESULTS / results["file"], json.dumps(results, indent=1, default=str))
    if not args.no_doc:
        write_doc(results)
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
