"""The documentation site as built (docs/testing.md, "The documentation site"): the strict build
passes; no page shows a raw Sphinx role or maths that the arithmatex markup left unrendered; no
page, stylesheet or font loads anything from outside the site, and everything it loads is there.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

from tests.docs.conftest import BuiltSite

#: a Sphinx role left in the text: ":class:`X`" renders as ":class:<code>X</code>"
RAW_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj|math):(?:`|<code)")
#: maths delimiters left in the text outside arithmatex markup, code and scripts
UNRENDERED_MATHS = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]|\$\$.+?\$\$|\$[^\s$][^$]*?\$", re.DOTALL)
#: elements whose text is not prose: code, scripts, styles, and the maths KaTeX renders
SKIPPED = {"code", "pre", "script", "style", "textarea"}
#: the attributes by which a page loads something
LOADING = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
}
#: link relations that are navigation, not something the page loads
NOT_LOADED_RELS = {"canonical", "alternate", "prev", "next", "search", "author", "license"}
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)|@import\s+['\"]([^'\"]+)['\"]")


class Page(HTMLParser):
    """One page: its prose (outside code, scripts and arithmatex markup), its arithmatex
    elements and the URLs it loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.prose: list[str] = []
        self.maths = 0
        self.loads: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self._skip: list[str] = []  # tags of the open skipped elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        if self._skip and tag == self._skip[-1]:
            self._skip.append(tag)  # nested element of the same tag inside a skipped one
        elif not self._skip:
            if "arithmatex" in (values.get("class") or "").split():
                self.maths += 1
                self._skip.append(tag)
            elif tag in SKIPPED:
                self._skip.append(tag)
        rel = set((values.get("rel") or "").split())
        if tag == "link" and rel & NOT_LOADED_RELS:
            return
        for attr in LOADING.get(tag, ()):
            for url in (values.get(attr) or "").split(","):
                url = url.strip().split(" ")[0]
                if url:
                    self.loads.append((f"<{tag} {attr}>", url))

    def handle_endtag(self, tag: str) -> None:
        if self._skip and tag == self._skip[-1]:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.prose.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def is_external(url: str) -> bool:
    """Whether ``url`` points outside the site (another host, any scheme but data:)."""
    parsed = urlparse(url)
    return bool(parsed.netloc) or parsed.scheme not in ("", "data")


def missing_target(url: str, base: Path, root: Path) -> Path | None:
    """The file a relative ``url`` of ``base`` names, if the site lacks it."""
    parsed = urlparse(url)
    if parsed.scheme or parsed.netloc or not parsed.path:
        return None
    # an absolute path (404.html, which a server serves at any depth) starts at the site's root
    start = root if parsed.path.startswith("/") else base.parent
    target = (start / unquote(parsed.path.lstrip("/"))).resolve()
    if not target.is_relative_to(root.resolve()):
        return target
    return None if target.exists() else target


def test_build_strict(site: BuiltSite) -> None:
    assert site.returncode == 0, site.log[-5000:]
    theory = (site.path / "api" / "theory.html").read_text(encoding="utf-8")
    assert 'id="selfdistill.theory.guaranteed_rounds"' in theory


def test_no_raw_sphinx_role(built: BuiltSite) -> None:
    found = {
        str(p.relative_to(built.path)): RAW_ROLE.findall(p.read_text(encoding="utf-8"))
        for p in built.pages()
    }
    assert {page: roles for page, roles in found.items() if roles} == {}


def test_no_unrendered_maths(built: BuiltSite) -> None:
    leftovers, maths = {}, {}
    for path in built.pages():
        page = parse(path)
        name = str(path.relative_to(built.path))
        maths[name] = page.maths
        found = UNRENDERED_MATHS.findall("".join(page.prose))
        if found:
            leftovers[name] = found[:5]
    assert leftovers == {}
    # the check is not vacuous: the guides and the gallery carry maths
    assert maths["kernel.html"] >= 5 and maths["gallery/borup-fig2.html"] >= 5


def test_no_page_loads_anything_from_outside_the_site(built: BuiltSite) -> None:
    external, missing = [], []
    for path in built.pages():
        for where, url in parse(path).loads:
            name = str(path.relative_to(built.path))
            if is_external(url):
                external.append(f"{name}: {where} {url}")
            elif (target := missing_target(url, path, built.path)) is not None:
                missing.append(f"{name}: {where} {url} -> {target}")
    assert external == []
    assert missing == []


def test_links_between_pages_reach_their_anchors(built: BuiltSite) -> None:
    pages = {path.resolve(): parse(path) for path in built.pages()}
    broken = []
    for path, page in pages.items():
        for href in page.links:
            parsed = urlparse(href)
            if parsed.scheme or parsed.netloc or not parsed.fragment:
                continue
            target = (path.parent / unquote(parsed.path)).resolve() if parsed.path else path
            if target.suffix == ".html" and target in pages:
                if unquote(parsed.fragment) not in pages[target].ids:
                    broken.append(f"{path.relative_to(built.path.resolve())}: {href}")
    assert broken == []


def test_no_stylesheet_loads_a_font_or_file_from_outside(built: BuiltSite) -> None:
    external, missing, fonts = [], [], 0
    for path in sorted(built.path.rglob("*.css")):
        for match in CSS_URL.finditer(path.read_text(encoding="utf-8")):
            url = match[1] or match[2]
            name = str(path.relative_to(built.path))
            if is_external(url):
                external.append(f"{name}: {url}")
            elif (target := missing_target(url.split("#")[0], path, built.path)) is not None:
                missing.append(f"{name}: {url} -> {target}")
            fonts += url.endswith(".woff2")
    assert external == []
    assert missing == []
    assert fonts >= 20  # KaTeX's fonts ship with the site


def test_the_checks_catch_what_they_look_for() -> None:
    html = (
        '<p>see :class:<code>X</code> and \\(a^2\\) and $b$</p><span class="arithmatex">'
        "\\(c\\)</span><pre><code>$HOME \\(not maths\\)</code></pre>"
        '<script src="https://cdn.example/x.js"></script>'
        '<link rel="stylesheet" href="assets/a.css"><link rel="canonical" href="https://x/">'
    )
    page = Page()
    page.feed(html)
    prose = "".join(page.prose)
    assert RAW_ROLE.findall(html) == [":class:<code"]
    assert UNRENDERED_MATHS.findall(prose) == ["\\(a^2\\)", "$b$"]
    assert page.maths == 1
    assert [url for _, url in page.loads if is_external(url)] == ["https://cdn.example/x.js"]
    assert ("<link href>", "assets/a.css") in page.loads
    assert not is_external("../assets/vendor/katex/katex.min.js")
    assert is_external("//fonts.googleapis.com/css")
