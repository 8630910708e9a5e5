"""Atomic file writes: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and an interrupted run leaves the previous version intact.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextmanager
def atomic_path(target: Path | str, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; published files are world-readable
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(target: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes(target: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


#: Rows of a Parquet row group: pyarrow's default, what ``DataFrame.to_parquet`` writes.
PARQUET_ROW_GROUP = 1024 * 1024


def write_parquet(df: pd.DataFrame, target: Path | str) -> Path:
    """Write ``df`` to ``target`` as Parquet atomically (no index, deterministic bytes).

    Columns of texts held as categories (the DECP contracts' repeated texts, see
    ``analysis.sources.decp.tables.COMPACT_COLUMNS``) are written as text: the file is byte for
    byte that of the same frame with those columns as ``string``. Such a frame is converted and
    written one row group at a time, so that its texts exist only a row group at a time.
    """
    texts = [name for name in df.columns if _text_categories(df[name])]
    with atomic_path(target, suffix=".parquet") as tmp:
        if texts and not df.attrs:
            _write_texts_by_row_group(df, texts, tmp)
        else:  # (``attrs`` go into the file's metadata: pandas' own writer keeps that)
            df.astype({name: pd.StringDtype() for name in texts}).to_parquet(
                tmp, index=False, engine="pyarrow", compression="zstd")
    return Path(target)


def _text_categories(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype) and \
        pd.api.types.is_string_dtype(column.cat.categories.dtype)


def _write_texts_by_row_group(df: pd.DataFrame, texts: list[str], tmp: Path) -> None:
    """``df.to_parquet`` of ``df`` with ``texts`` as ``string``, one row group at a time: each
    row group's rows converted as pandas converts the whole frame (``Table.from_pandas``), each
    written as one row group, as ``pyarrow.parquet.write_table`` cuts a table."""
    import pyarrow.parquet as pq

    from .sources.decp.tables import restore_column

    writer = None
    try:
        for start in range(0, max(len(df), 1), PARQUET_ROW_GROUP):
            part = df.iloc[start:start + PARQUET_ROW_GROUP].copy(deep=False)
            for name in texts:
                part[name] = restore_column(part[name])
            table = pyarrow.Table.from_pandas(part, preserve_index=False)
            del part
            if writer is None:
                writer = pq.ParquetWriter(str(tmp), table.schema, compression="zstd")
            elif not table.schema.equals(writer.schema, check_metadata=True):
                # A row group typed apart from the first (an object column of missing values
                # only): the whole frame converted at once, as pandas does.
                writer.close()
                writer = None
                df.astype({name: pd.StringDtype() for name in texts}).to_parquet(
                    tmp, index=False, engine="pyarrow", compression="zstd")
                return
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
