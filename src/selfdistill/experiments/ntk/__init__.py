"""Reproductions through the NTK lens: ``dong-fig2``, ``dong-fig5`` and ``ntk-kernel`` (torch
extra, imported by ``compute`` only)."""
