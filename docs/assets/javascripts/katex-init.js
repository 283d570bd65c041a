// Renders the maths that pymdownx.arithmatex (generic mode) marks up: inline \( ... \) in
// <span class="arithmatex">, display \[ ... \] in <div class="arithmatex">. Only those elements
// are touched, so a `$` in prose or code is never taken for maths. KaTeX ships with the site
// (assets/vendor/katex): no network needed. A formula KaTeX cannot parse is shown in red with
// the class `katex-error` (throwOnError: false), which tests/docs/test_browser.py looks for.
document$.subscribe(({ body }) => {
  for (const element of body.querySelectorAll(".arithmatex")) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
});
