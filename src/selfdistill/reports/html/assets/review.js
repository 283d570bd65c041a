/* The review table of a `selfdistill clean` run (reports/html/review.py embeds the data as JSON).
   One page of rows is in the document at a time; decisions live in localStorage under the run's
   key and leave the page as corrections.csv (row,label: the decided rows, unsure ones left out).
   No network, no library: plain DOM. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("review-data").textContent);
  var classes = data.classes;
  // a row: [row, index, given, suggested, score, flagged, position in the columns]
  var ROW = 0, INDEX = 1, GIVEN = 2, SUGGESTED = 3, SCORE = 4, FLAGGED = 5, AT = 6;
  var rows = new Array(data.index.length);
  for (var p = 0; p < rows.length; p++) {
    rows[p] = [data.rowNames ? data.rowNames[p] : String(data.index[p]), data.index[p],
      data.given[p], data.suggested[p], data.score[p], data.flagged[p], p];
  }
  var byIndex = [];
  rows.forEach(function (r) { byIndex[r[INDEX]] = r; });
  var rowMap = null;  // row name -> row, made when first needed (a stored decision's row)
  function rowOf(name) {
    if (!rowMap) {
      rowMap = new Map();
      rows.forEach(function (r) { rowMap.set(String(r[ROW]), r); });
    }
    return rowMap.get(String(name));
  }
  var KEY = "selfdistill-review:" + data.run;
  var KINDS = { accept: "✓ accepted", keep: "= kept", set: "✎ set", unsure: "? unsure" };
  var nFlagged = rows.reduce(function (n, r) { return n + (r[FLAGGED] ? 1 : 0); }, 0);
  var state = { given: "", suggested: "", min: null, max: null, decision: "",
                all: nFlagged === 0, page: 0, size: 50 };
  var view = [];
  var $ = function (id) { return document.getElementById(id); };
  var tbody = document.querySelector("#issues tbody");
  var storageOk = true;
  var decisions = loadDecisions();

  function loadDecisions() {
    var out = null;
    try {
      var text = window.localStorage.getItem(KEY);
      window.localStorage.setItem(KEY + ":probe", "1");
      window.localStorage.removeItem(KEY + ":probe");
      if (text) {
        var saved = JSON.parse(text);
        out = {};
        Object.keys(saved).forEach(function (k) { if (rowOf(k)) out[k] = saved[k]; });
      }
    } catch (e) {
      storageOk = false;
    }
    return out || earlierDecisions();
  }

  // the first visit: the labels decided in an earlier review (clean --corrections) are decided
  function earlierDecisions() {
    var out = {};
    Object.keys(data.corrected || {}).forEach(function (k) {
      var r = rowOf(k);
      if (!r) return;
      var label = data.corrected[k];
      out[k] = [label === classes[r[GIVEN]] ? "keep" : "set", label, "earlier"];
    });
    return out;
  }

  function saveDecisions() {
    if (!storageOk) return;
    try {
      window.localStorage.setItem(KEY, JSON.stringify(decisions));
    } catch (e) {
      storageOk = false;
      showStorageWarning();
    }
  }

  function showStorageWarning() {
    var w = $("storage-warning");
    w.textContent = "Warning: this browser does not let the page keep decisions; download " +
      "corrections.csv before closing it.";
    w.hidden = false;
  }

  function num(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return String(Number(Number(v).toPrecision(4)));
  }

  function labelOf(r, kind, label) {
    if (kind === "accept") return classes[r[SUGGESTED]];
    if (kind === "keep") return classes[r[GIVEN]];
    return label;
  }

  // ---------------------------------------------------------------------------------------
  // filtering and paging
  // ---------------------------------------------------------------------------------------

  function matches(r) {
    if (!state.all && !r[FLAGGED]) return false;
    if (state.given !== "" && r[GIVEN] !== +state.given) return false;
    if (state.suggested !== "" && r[SUGGESTED] !== +state.suggested) return false;
    if (state.min !== null && !(r[SCORE] >= state.min)) return false;
    if (state.max !== null && !(r[SCORE] <= state.max)) return false;
    if (state.decision) {
      var d = decisions[String(r[ROW])];
      if (state.decision === "undecided" && d) return false;
      if (state.decision === "decided" && !d) return false;
      if (state.decision === "unsure" && !(d && d[0] === "unsure")) return false;
    }
    return true;
  }

  function applyFilters() {
    view = rows.filter(matches);
    var pages = Math.max(1, Math.ceil(view.length / state.size));
    if (state.page >= pages) state.page = pages - 1;
  }

  function pageCount() { return Math.max(1, Math.ceil(view.length / state.size)); }

  // ---------------------------------------------------------------------------------------
  // drawing
  // ---------------------------------------------------------------------------------------

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // the keys 1-9 name the classes in list order; when the classes are digits, their own digit
  var DIGITS = classes.every(function (c) { return /^[0-9]$/.test(c); });
  function digitClass(key) {
    if (!/^[0-9]$/.test(key)) return null;
    if (DIGITS) return classes.indexOf(key) >= 0 ? key : null;
    return key !== "0" && +key <= classes.length ? classes[+key - 1] : null;
  }

  var setTemplate = el("select", { "data-d": "set" });
  setTemplate.appendChild(el("option", { value: "" }, "Set label…"));
  classes.forEach(function (c, i) {
    var prefix = !DIGITS && i < 9 ? (i + 1) + ": " : "";
    setTemplate.appendChild(el("option", { value: c }, prefix + c));
  });

  function sampleCell(r) {
    var td = el("td");
    fillSample(td, r);
    return td;
  }

  // the evidence of a row: a thumbnail, or feature values and neighbours; "loading…" while the
  // evidence of the later rows (after the script) is not read yet
  function fillSample(td, r) {
    var key = String(r[INDEX]);
    td.replaceChildren();
    td.className = "";
    var have = data.kind === "images" ? data.thumbs[key] :
      (data.features[key] || data.neighbours[key]);
    if (!have && !laterRead && (data.kind === "images" || data.kind === "table")) {
      td.className = "pending";
      td.textContent = "loading…";
    } else if (data.kind === "images") {
      if (have) {
        td.appendChild(el("img", { class: "thumb", src: have, width: "64", height: "64",
          alt: "sample " + r[ROW] + ", given label " + classes[r[GIVEN]] }));
      } else {
        td.textContent = "no thumbnail";
      }
    } else if (data.kind === "table") {
      td.className = "features";
      tableEvidence(td, r, key);
    } else {
      td.textContent = "–";
    }
  }

  function tableEvidence(td, r, key) {
    var values = data.features[key];
    if (values) {
      var dl = el("dl");
      data.featureNames.forEach(function (name, j) {
        dl.appendChild(el("dt", null, name));
        dl.appendChild(el("dd", null, num(values[j])));
      });
      td.appendChild(dl);
    } else {
      td.appendChild(document.createTextNode("–"));
    }
    var near = data.neighbours[key];
    if (near && near.length) {
      td.appendChild(el("span", null, "Nearest correctly-labelled samples:"));
      var ul = el("ul", { class: "neighbours" });
      near.forEach(function (nb) {
        var other = byIndex[nb[0]];
        if (!other) return;
        var lab = classes[other[GIVEN]];
        var note = other[GIVEN] === r[SUGGESTED] ? " (the suggested label)" :
          (other[GIVEN] === r[GIVEN] ? " (the given label)" : "");
        ul.appendChild(el("li", null, "row " + other[ROW] + ": " + lab + note +
          ", distance " + num(nb[1])));
      });
      td.appendChild(ul);
    }
  }

  // the evidence past the first pages follows the script: read once the page is parsed
  var laterRead = false;
  function readLater() {
    if (laterRead) return;
    var block = document.getElementById("review-later");
    if (block) {
      var more = JSON.parse(block.textContent);
      ["thumbs", "features", "neighbours"].forEach(function (part) {
        var into = data[part];
        Object.keys(more[part] || {}).forEach(function (k) { into[k] = more[part][k]; });
      });
    }
    laterRead = true;
    tbody.querySelectorAll("td.pending").forEach(function (td) {
      fillSample(td, rows[+td.parentElement.dataset.at]);
    });
    document.documentElement.setAttribute("data-review-complete", "true");
  }

  function decisionCell(r) {
    var td = el("td");
    var group = el("div", { class: "decide", role: "group",
      "aria-label": "decision for row " + r[ROW] });
    [["accept", "Accept", "accept the suggested label (a)"],
     ["keep", "Keep", "keep the given label (k)"]].forEach(function (b) {
      group.appendChild(el("button", { type: "button", "data-d": b[0], "aria-pressed": "false",
        title: b[2], tabindex: "-1" }, b[1]));
    });
    // a list of the classes is made when asked for: 50 lists in a page cost a lot of layout
    group.appendChild(el("button", { type: "button", "data-d": "set", "aria-pressed": "false",
      "aria-haspopup": "listbox", title: "set another label (s, or 1-9)", tabindex: "-1" },
      "Set label…"));
    group.appendChild(el("button", { type: "button", "data-d": "unsure", "aria-pressed": "false",
      title: "mark unsure (u)", tabindex: "-1" }, "Unsure"));
    group.appendChild(el("button", { type: "button", "data-d": "clear",
      title: "clear the decision (c)", tabindex: "-1" }, "Clear"));
    td.appendChild(group);
    td.appendChild(el("span", { class: "decision" }));
    return td;
  }

  function rowElement(r, rank) {
    var tr = el("tr", { "data-row": String(r[ROW]), "data-at": String(r[AT]), tabindex: "-1" });
    tr.appendChild(el("td", { class: "num" }, String(rank + 1)));
    tr.appendChild(sampleCell(r));
    tr.appendChild(el("td", null)).appendChild(el("code", null, String(r[ROW])));
    tr.appendChild(el("td", null, classes[r[GIVEN]]));
    var sug = el("td", null, classes[r[SUGGESTED]]);
    if (r[FLAGGED]) {
      sug.appendChild(document.createTextNode(" "));
      sug.appendChild(el("span", { class: "flag" }, "⚑ flagged"));
    }
    tr.appendChild(sug);
    tr.appendChild(el("td", { class: "num" }, num(r[SCORE])));
    var top = [];
    for (var j = 0; j < data.topK; j++) {
      var at = r[AT] * data.topK + j;
      var permille = data.topProb[at];
      top.push(classes[data.topClass[at]] + " " +
        (permille === null ? "–" : (permille / 1000).toFixed(3)));
    }
    tr.appendChild(el("td", { class: "probs" }, top.join(" · ")));
    tr.appendChild(decisionCell(r));
    showDecision(tr, r);
    return tr;
  }

  function showDecision(tr, r) {
    if (!r) return;
    var d = decisions[String(r[ROW])];
    var kind = d ? d[0] : "";
    tr.className = kind ? "d-" + kind : "";
    if (tr === activeRow) tr.classList.add("active");
    tr.querySelectorAll("button[data-d]").forEach(function (b) {
      if (b.dataset.d !== "clear") b.setAttribute("aria-pressed", String(b.dataset.d === kind));
    });
    var setter = tr.querySelector('button[data-d="set"]');
    if (setter) setter.textContent = kind === "set" ? "Set: " + d[1] + "…" : "Set label…";
    tr.querySelector(".decision").textContent = kind ?
      KINDS[kind] + (kind === "unsure" ? "" : ": " + d[1]) +
      (d[2] === "earlier" ? " (in an earlier review)" : "") : "undecided";
  }

  var activeRow = null;

  function render(focusWhere) {
    var start = state.page * state.size;
    var end = Math.min(view.length, start + state.size);
    var frag = document.createDocumentFragment();
    activeRow = null;
    for (var i = start; i < end; i++) frag.appendChild(rowElement(view[i], i));
    tbody.replaceChildren(frag);
    var first = tbody.firstElementChild;
    if (first) {
      var target = focusWhere === "last" ? tbody.lastElementChild : first;
      setActive(target, focusWhere !== undefined && focusWhere !== null);
    }
    var scope = state.all ? "all samples" : "flagged samples";
    $("status").textContent = view.length ?
      "Showing rows " + (start + 1).toLocaleString() + "–" + end.toLocaleString() + " of " +
      view.length.toLocaleString() + " matching (" + scope + "; " + nFlagged.toLocaleString() +
      " flagged of " + rows.length.toLocaleString() + " samples)." :
      "No row matches the filters (" + scope + ").";
    $("page-info").textContent = "page " + (state.page + 1) + " of " + pageCount();
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = state.page >= pageCount() - 1;
  }

  function setActive(tr, focus) {
    if (activeRow && activeRow !== tr) {
      activeRow.tabIndex = -1;
      activeRow.classList.remove("active");
    }
    activeRow = tr;
    tr.tabIndex = 0;
    tr.classList.add("active");
    if (focus) tr.focus();
  }

  function updateCount() {
    var keys = Object.keys(decisions);
    var unsure = keys.filter(function (k) { return decisions[k][0] === "unsure"; }).length;
    $("decided-count").textContent = keys.length.toLocaleString() + " decided" +
      (unsure ? " (" + unsure + " unsure)" : "") + "; " + (keys.length - unsure).toLocaleString() +
      " go into corrections.csv.";
  }

  // ---------------------------------------------------------------------------------------
  // deciding
  // ---------------------------------------------------------------------------------------

  function decide(tr, kind, label) {
    var r = rows[+tr.dataset.at];
    if (!r) return;
    if (kind === "clear" || (kind === "set" && !label)) {
      delete decisions[tr.dataset.row];
    } else {
      decisions[tr.dataset.row] = [kind, labelOf(r, kind, label)];
    }
    saveDecisions();
    showDecision(tr, r);
    updateCount();
  }

  function move(step) {
    if (!activeRow) return;
    var next = step > 0 ? activeRow.nextElementSibling : activeRow.previousElementSibling;
    if (next) {
      setActive(next, true);
    } else if (step > 0 && state.page < pageCount() - 1) {
      state.page += 1;
      render("first");
    } else if (step < 0 && state.page > 0) {
      state.page -= 1;
      render("last");
    }
  }

  tbody.addEventListener("click", function (event) {
    var tr = event.target.closest("tr");
    if (!tr) return;
    var button = event.target.closest("button[data-d]");
    setActive(tr, !button && event.target.tagName !== "SELECT");
    if (button && button.dataset.d === "set") openSetter(tr);
    else if (button) decide(tr, button.dataset.d);
  });

  // "Set label…": the button becomes a list of the classes until a label is chosen or Esc
  function openSetter(tr) {
    var button = tr.querySelector('button[data-d="set"]');
    if (!button) return tr.querySelector("select[data-d]").focus();
    var d = decisions[tr.dataset.row];
    var select = setTemplate.cloneNode(true);
    select.setAttribute("aria-label", "set the label of row " + tr.dataset.row);
    select.value = d && d[0] === "set" ? d[1] : "";
    button.replaceWith(select);
    select.focus();
  }

  function closeSetter(select) {
    var tr = select.closest("tr");
    if (!tr) return;
    var r = rows[+tr.dataset.at];
    var button = el("button", { type: "button", "data-d": "set", "aria-pressed": "false",
      "aria-haspopup": "listbox", title: "set another label (s, or 1-9)", tabindex: "-1" });
    select.replaceWith(button);
    showDecision(tr, r);
  }

  tbody.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-d]");
    if (select) decide(select.closest("tr"), "set", select.value);
  });

  tbody.addEventListener("focusout", function (event) {
    var select = event.target.closest && event.target.closest("select[data-d]");
    if (select) setTimeout(function () { if (select.isConnected) closeSetter(select); }, 0);
  });

  tbody.addEventListener("focusin", function (event) {
    var tr = event.target.closest("tr");
    if (tr && tr !== activeRow) setActive(tr, false);
  });

  tbody.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tr = event.target.closest("tr");
    if (!tr) return;
    if (event.target.tagName === "SELECT") {
      if (event.key === "Escape" || event.key === "Enter") { event.preventDefault(); tr.focus(); }
      return;
    }
    var key = event.key;
    var handled = true;
    if (key === "ArrowDown") move(1);
    else if (key === "ArrowUp") move(-1);
    else if (key === "Home") setActive(tbody.firstElementChild, true);
    else if (key === "End") setActive(tbody.lastElementChild, true);
    else if (key === "PageDown") turn(1);
    else if (key === "PageUp") turn(-1);
    else if (key === "a") { decide(tr, "accept"); move(1); }
    else if (key === "k") { decide(tr, "keep"); move(1); }
    else if (key === "u") { decide(tr, "unsure"); move(1); }
    else if (key === "c" || key === "Delete" || key === "Backspace") decide(tr, "clear");
    else if (key === "s") openSetter(tr);
    else if (digitClass(key) !== null) {
      decide(tr, "set", digitClass(key));
      move(1);
    } else handled = false;
    if (handled) event.preventDefault();
  });

  function turn(step) {
    var page = state.page + step;
    if (page < 0 || page >= pageCount()) return;
    state.page = page;
    render("first");
  }

  // ---------------------------------------------------------------------------------------
  // controls
  // ---------------------------------------------------------------------------------------

  ["filter-given", "filter-suggested"].forEach(function (id) {
    var select = $(id);
    classes.forEach(function (c, i) { select.appendChild(el("option", { value: String(i) }, c)); });
  });

  function readNumber(id) {
    var v = $(id).value.trim();
    return v === "" || !isFinite(+v) ? null : +v;
  }

  function refilter() {
    state.given = $("filter-given").value;
    state.suggested = $("filter-suggested").value;
    state.min = readNumber("filter-min");
    state.max = readNumber("filter-max");
    state.decision = $("filter-decision").value;
    state.all = $("show-all").checked;
    state.size = +$("page-size").value;
    state.page = 0;
    applyFilters();
    render();
  }

  ["filter-given", "filter-suggested", "filter-decision", "show-all", "page-size"].forEach(
    function (id) { $(id).addEventListener("change", refilter); });
  ["filter-min", "filter-max"].forEach(function (id) { $(id).addEventListener("input", refilter); });
  $("page-prev").addEventListener("click", function () { turn(-1); });
  $("page-next").addEventListener("click", function () { turn(1); });

  function csvField(value) {
    var s = String(value);
    return /[",\r\n]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s;
  }

  function correctionsCsv() {
    var lines = ["row,label"];
    rows.slice().sort(function (a, b) { return a[INDEX] - b[INDEX]; }).forEach(function (r) {
      var d = decisions[String(r[ROW])];
      if (d && d[0] !== "unsure") lines.push(csvField(r[ROW]) + "," + csvField(d[1]));
    });
    return lines.join("\n") + "\n";
  }

  $("download-corrections").addEventListener("click", function () {
    var text = correctionsCsv();
    var blob = new Blob([text], { type: "text/csv" });
    var a = el("a", { href: URL.createObjectURL(blob), download: "corrections.csv" });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
    $("status").textContent = "corrections.csv: " + (text.split("\n").length - 2) +
      " decided rows.";
  });

  $("clear-decisions").addEventListener("click", function () {
    var n = Object.keys(decisions).length;
    if (!n || !window.confirm("Clear all " + n + " decisions of this run?")) return;
    decisions = {};
    saveDecisions();
    render();
    updateCount();
  });

  window.selfdistillReview = { correctionsCsv: correctionsCsv, decisions: function () {
    return JSON.parse(JSON.stringify(decisions)); } };

  $("show-all").checked = state.all;
  if (!storageOk) showStorageWarning();
  applyFilters();
  render();
  updateCount();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", readLater);
  } else {
    readLater();
  }
  if (window.performance && performance.mark) performance.mark("review-rendered");
  document.documentElement.setAttribute("data-review-ready", "true");
})();
