"""Reproductions on noisy labels: ``dong-table1`` and ``dong-theorem1`` (torch extra, imported by
``compute`` only)."""
