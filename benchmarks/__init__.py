"""Benchmarks of the observatory (``make bench``): ingest, warehouse build, rendering, pipeline.

``python -m benchmarks.run`` runs them; see ``docs/performance.md``.
"""
