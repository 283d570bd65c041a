"""Private helpers shared by every layer of the package (not a public API).

``io``
    atomic JSON / CSV / bytes writers (every file the package writes goes through them).
``outdir``
    output folders created with one-sentence errors and held by one command at a time.
``validation``
    argument checks (a ``ValueError`` naming the argument and its range), seed lists, size caps.
``stats``
    ``sample_std``, the one "± std over seeds" convention (ddof = 1).
``progress``
    a line per stage and tqdm bars, on stderr.
``moved``
    the old import paths of moved modules, served with a DeprecationWarning for one release.

The package is private to ``selfdistill`` as a whole: any module of the package may import it,
nothing outside should. Importing it imports none of its modules.
"""
