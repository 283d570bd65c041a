"""Subcommands of the ``selfdistill`` CLI (see :mod:`selfdistill.cli`)."""
