"""MkDocs hooks of the documentation site (mkdocs.yml ``hooks:``).

A gallery page (docs/gallery/NAME.md) marks with ``<!-- made -->`` where the record of its
figures goes: the command that drew them, the commit, the date and the time it took, read from
docs/gallery/figures/NAME/made.json (written by scripts/gallery.py), so the page cannot drift
from the files it shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER = "<!-- made -->"


def made_note(record: dict[str, Any]) -> str:
    """The admonition a gallery page shows for its figures' ``made.json`` record."""
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items() if v)
    changed = " (with uncommitted changes to src/)" if record["src_changed"] else ""
    return (
        '!!! info "How these figures were made"\n'
        f"    `{record['command']}` at commit `{record['commit'][:10]}`{changed} on "
        f"{record['date']}: {record['seconds']:.0f} s on {record['machine']} ({versions}). "
        "`python scripts/gallery.py "
        f"{record['experiment']}` makes them again; `selfdistill reproduce "
        f"{record['experiment']} --replot docs/gallery/figures/{record['experiment']}` redraws "
        "them from the kept `results.json`.\n"
    )


def on_page_markdown(markdown: str, *, page: Any, config: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    src = Path(page.file.src_uri)
    path = Path(config["docs_dir"]) / src.parent / "figures" / src.stem / "made.json"
    if not path.is_file():
        raise FileNotFoundError(f"{page.file.src_uri}: no {path} (run scripts/gallery.py)")
    record = json.loads(path.read_text(encoding="utf-8"))
    return markdown.replace(MARKER, made_note(record))
