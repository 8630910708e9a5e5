"""DECP, public-procurement essential data → the canonical ``contracts`` table and its children.

One pipeline, whatever the format: parse → rules → tables.

* :mod:`.json_source` parses DECP JSON files (``msgspec``; odd records and odd files with
  ``json`` / ``ijson``), :mod:`.tabular_source` the consolidated tables (CSV or Parquet, through
  Arrow), each into the same columnar frame of raw records (:class:`.rules.Records`);
* :mod:`.rules` states every rule once and applies it by columns: the canonical rows and the
  quarantine (its docstring maps each rule and its message);
* :mod:`.tables` types the rows, cuts them into chunks and deduplicates across files.

A contract's social status is *unknown* (``has_social_consideration`` is missing) when the record
says nothing usable: no ``considerationsSociales``, an empty list, or only unrecognised values.
It is never read as *without* a social consideration unless the record says so. Concessions are
kept apart in their own table.
"""

from .json_source import STREAM_THRESHOLD, read_decp_json
from .rules import (CLAUSE, CRITERION, FORMAT, FORMAT_2019, NONE, RESERVED, RESERVED_CONCESSION,
                    V2_FIELDS, Considerations, _SOCIAL_VALUES, departement_from_place,
                    parse_considerations)
from .tables import (CONCESSION_COLUMNS, CONTRACT_COLUMNS, CONTRACT_EXTRA, MODIFICATION_COLUMNS,
                     SOURCE, SUPPLIER_COLUMNS, DecpFile, _deduplicate_pandas, arrow_pool,
                     concat_compact, contracts_frame, deduplicate, is_compact, keep_children,
                     plain_frame, release_memory, restore_array, restore_column, restore_frame)
from .tabular_source import read_decp_table

__all__ = [
    "CLAUSE", "CONCESSION_COLUMNS", "CONTRACT_COLUMNS", "CONTRACT_EXTRA", "CRITERION", "FORMAT",
    "FORMAT_2019", "MODIFICATION_COLUMNS", "NONE", "RESERVED", "RESERVED_CONCESSION", "SOURCE",
    "STREAM_THRESHOLD", "SUPPLIER_COLUMNS", "V2_FIELDS", "Considerations", "DecpFile",
    "_SOCIAL_VALUES", "_deduplicate_pandas", "arrow_pool", "concat_compact", "contracts_frame",
    "deduplicate", "is_compact", "release_memory", "restore_array", "restore_column",
    "departement_from_place", "keep_children", "parse_considerations", "plain_frame",
    "read_decp_json", "read_decp_table", "restore_frame",
]
