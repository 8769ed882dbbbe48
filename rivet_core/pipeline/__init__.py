"""The pipeline: a run's shared context (`run`), the per-unit loop (`unit`), prefetch, meta columns, publishing."""
