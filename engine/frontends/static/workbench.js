// check-listing workbench: sends the editor's text, the slider's price and the as-of date to the
// server and shows what the engine answers. It decides nothing itself: every verdict, market cap
// and break-even price on the page comes from the server's evaluation (durable_rules deciding).
// Text from the server is set with textContent, never parsed as HTML; the report is shown in a
// sandboxed frame (no scripts run in it).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const editor = $("editor"), gutter = $("gutter"), slider = $("price-slider"), priceBox = $("price");
  const asOf = $("as-of");
  let filename = editor.dataset.filename || "case.yaml";
  let price = null;            // null: the case's own price
  let sent = 0, shown = 0;     // request sequence numbers: only the latest answer is shown
  let inFlight = false, queued = false, typingTimer = null;
  let errorLines = new Set();

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function drawGutter() {
    const count = editor.value.split("\n").length;
    const lines = [];
    for (let i = 1; i <= count; i++) lines.push(errorLines.has(i) ? i + " ▶" : String(i));
    gutter.textContent = lines.join("\n");
    gutter.scrollTop = editor.scrollTop;
  }

  function query() {
    return {text: editor.value, filename: filename, price: price === null ? null : price, as_of: asOf.value || null};
  }

  async function post(url, body) {
    const response = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify(body)});
    return response;
  }

  // One request at a time; while one is out, changes only mark that another is needed (the latest state).
  async function evaluate() {
    if (inFlight) { queued = true; return; }
    inFlight = true; queued = false;
    const seq = ++sent;
    document.body.dataset.state = "busy";
    $("busy").hidden = false;
    try {
      const response = await post("/api/evaluate", query());
      const data = await response.json();
      if (seq > shown) { shown = seq; show(data); }
    } catch (error) {
      show({ok: false, problems: [{text: "the workbench server does not answer: " + error.message}]});
    } finally {
      inFlight = false;
      if (queued) { evaluate(); } else { document.body.dataset.state = "idle"; $("busy").hidden = true; }
    }
  }

  function show(data) {
    document.body.dataset.verdict = data.ok ? data.verdict : "error";
    if (!data.ok) { showProblems(data.problems || []); return; }
    showProblems([]);
    const verdict = $("verdict");
    verdict.textContent = data.verdict_text;
    verdict.className = "verdict " + data.verdict;
    $("summary").textContent = data.summary;
    const parts = $("parts");
    parts.replaceChildren(...data.parts.map((p) => {
      const item = el("li", null, p.applicable ? p.verdict : "not_applicable");
      item.append(el("b", p.title + ": "), el("span", p.summary + (p.counts ? "" : " (reported only)")));
      return item;
    }));
    showPricing(data.pricing);
    showRevision(data.revision);
    $("report").srcdoc = data.report_html;
  }

  function showProblems(problems) {
    errorLines = new Set(problems.filter((p) => p.line).map((p) => p.line));
    drawGutter();
    $("problems").hidden = problems.length === 0;
    $("stale").hidden = problems.length === 0;
    $("problem-list").replaceChildren(...problems.map((p) => {
      const item = el("li");
      if (p.line) {
        const where = el("button", "line " + p.line + (p.column ? ", column " + p.column : ""), "goto");
        where.type = "button";
        where.addEventListener("click", () => gotoLine(p.line));
        item.append(where, " ");
      }
      if (p.field) item.append(el("code", p.field), " ");
      item.append(el("span", p.message || p.text));
      if (p.expected) item.append(el("span", " (expected " + p.expected + ")", "small"));
      return item;
    }));
    if (problems.length) document.body.dataset.verdict = "error";
  }

  function gotoLine(line) {
    const lines = editor.value.split("\n");
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    editor.focus();
    editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
  }

  function yuan(fen) { return (fen / 100).toFixed(2); }

  function showPricing(pricing) {
    const section = $("pricing");
    section.hidden = !pricing || !pricing.scale;
    if (section.hidden) return;
    const scale = pricing.scale;
    slider.min = scale.min_fen; slider.max = scale.max_fen;
    const current = pricing.at ? pricing.at.price : (price !== null ? price : null);
    if (current !== null && document.activeElement !== slider) slider.value = Math.round(parseFloat(current) * 100);
    if (current !== null && document.activeElement !== priceBox) priceBox.value = current;
    const marks = $("scale");
    marks.replaceChildren(...pricing.break_even.filter((m) => m.fen !== null).map((m) => {
      const mark = el("span", m.standard + " " + m.price, "mark" + (m.chosen ? " chosen" : ""));
      const left = 100 * (m.fen - scale.min_fen) / (scale.max_fen - scale.min_fen);
      mark.style.left = Math.min(100, Math.max(0, left)) + "%";
      mark.title = m.label + ": " + m.price + " — " + m.detail;
      return mark;
    }));
    $("break-even").tBodies[0].replaceChildren(...pricing.break_even.map((m) => {
      const row = el("tr", null, m.chosen ? "chosen" : "");
      row.append(el("td", m.label), el("td", m.price), el("td", m.detail));
      return row;
    }));
    const at = pricing.at;
    $("market-cap").textContent = at ? (at.market_cap || "—") : "—";
    $("holding").textContent = at ? (at.standards_holding.join(", ") || "none") : "—";
    const issuance = $("issuance");
    issuance.textContent = at ? at.issuance : "—";
    issuance.className = at ? (at.aborts === true ? "fail" : at.aborts === false ? "pass" : "undetermined") : "";
    $("pricing-note").textContent = at
      ? (price === null ? "At the case's own price." : "At the slider's price; the case file states "
         + (pricing.case_price ? pricing.case_price + "元" : "no price") + ".")
      : "The case is at filing (the market cap is the sponsor's estimate); move the slider to judge it priced.";
  }

  function showRevision(revision) {
    $("revision").hidden = !revision;
    if (!revision) return;
    $("revision-dates").textContent = "rules in force on " + revision.old + " (the case's date) → " + revision.new;
    $("revision-verdict").textContent = "Verdict: " + revision.old_verdict + " → " + revision.new_verdict
      + (revision.verdict_flips ? " (changes)" : " (unchanged)");
    $("revision-changes").replaceChildren(...(revision.changes.length ? revision.changes.map((c) => {
      const item = el("li");
      item.append(el("code", c.rule_id), el("span", ": " + c.old + " → " + c.new));
      if (c.details.length) item.append(el("div", c.details.join("; "), "small"));
      return item;
    }) : [el("li", "no rule changed between the two dates")]));
    $("revision-flips").replaceChildren(...revision.flips.map((f) => {
      const item = el("li");
      item.append(el("code", f.rule_id), el("span", ": " + f.old + " → " + f.new + " — " + f.reason));
      return item;
    }));
  }

  function setPrice(value) {
    price = value;
    evaluate();
  }

  async function loadBundled(name) {
    if (!name) return;
    const response = await fetch("/api/cases/" + encodeURIComponent(name));
    const data = await response.json();
    if (!response.ok) { showProblems(data.problems); return; }
    setCase(data.text, data.filename);
    evaluate();
  }

  function setCase(text, name) {
    editor.value = text;
    filename = name;
    $("filename").textContent = name;
    price = null;
    priceBox.value = "";
    drawGutter();
  }

  async function upload(file) {
    const limit = parseInt(document.body.dataset.maxKib, 10) * 1024;
    if (file.size > limit) {
      showProblems([{message: file.name + " is larger than " + document.body.dataset.maxKib + " KiB"}]);
      return;
    }
    const response = await fetch("/api/upload", {method: "POST", body: file,
                                                 headers: {"X-Filename": encodeURIComponent(file.name)}});
    const data = await response.json();
    if (typeof data.text === "string") {
      setCase(data.text, data.filename);
      $("case-select").value = "";
    }
    shown = ++sent;
    show(data);
  }

  async function download(kind) {
    const response = await post("/api/download/" + kind, query());
    if (!response.ok) { showProblems((await response.json()).problems || []); return; }
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename\*=UTF-8''([^;]+)/.exec(disposition);
    const link = el("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = match ? decodeURIComponent(match[1]) : "download";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  editor.addEventListener("input", () => {
    drawGutter();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(evaluate, 200);  // wait for a pause in typing, then judge the text
  });
  editor.addEventListener("scroll", () => { gutter.scrollTop = editor.scrollTop; });
  slider.addEventListener("input", () => {
    priceBox.value = yuan(parseInt(slider.value, 10));
    setPrice(priceBox.value);
  });
  priceBox.addEventListener("change", () => {
    if (!priceBox.value) { setPrice(null); return; }
    slider.value = Math.round(parseFloat(priceBox.value) * 100);
    setPrice(priceBox.value);
  });
  $("price-reset").addEventListener("click", () => { priceBox.value = ""; setPrice(null); });
  asOf.addEventListener("change", evaluate);
  $("as-of-clear").addEventListener("click", () => { asOf.value = ""; evaluate(); });
  $("case-select").addEventListener("change", (event) => loadBundled(event.target.value));
  $("upload").addEventListener("change", (event) => { if (event.target.files[0]) upload(event.target.files[0]); });
  document.querySelectorAll("[data-download]").forEach((button) =>
    button.addEventListener("click", () => download(button.dataset.download)));
  $("report").addEventListener("load", () => {
    const frame = $("report");
    const body = frame.contentDocument && frame.contentDocument.body;
    if (body) frame.style.height = (body.scrollHeight + 40) + "px";
  });

  drawGutter();
  if (editor.value.trim()) evaluate();
})();
