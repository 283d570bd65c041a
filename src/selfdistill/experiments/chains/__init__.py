"""Reproductions with chains of network generations and teacher studies: ``mobahi-fig3``,
``borup-fig5``, ``dong-fig1`` (torch extra, imported by ``compute`` only)."""
