"""``python -m analysis``: the same command line as ``observatoire``."""

from .cli import main

raise SystemExit(main())
