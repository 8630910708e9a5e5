"""One reader per source and format, each giving canonical tables, quarantine and accounting."""
