"""Reproductions of the papers' ablation tables as multi-seed measurements (``python -m bench.ablations``)."""
