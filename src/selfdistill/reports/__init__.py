"""Tables, summaries and figures of the experiments and commands (no torch needed).

``chain``
    summaries, CSV rows and the accuracy figure of chains of generations.
``noisy``
    summaries, Markdown tables, CSV rows and the curves of the noisy-label runs.
``plotting``
    headless matplotlib and atomic PNG output, plus the figure pieces the experiments share.

Importing this package imports none of them; :mod:`.plotting` alone imports matplotlib.
"""
