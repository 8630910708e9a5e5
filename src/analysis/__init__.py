"""Observatoire des clauses sociales: warehouse, indicators and reports on social clauses in
French public procurement."""

__version__ = "0.1.0"
