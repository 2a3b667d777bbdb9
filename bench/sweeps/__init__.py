"""Probe definitions for ``python -m bench.sweep``: one module per probe, each with a module-level ``SWEEP``
(:class:`bench.sweep.Sweep`), or ``SWEEPS`` (a tuple of them) for a probe that decides several things. A new
module here is found by ``bench.sweep.sweeps()``; no list to edit."""
