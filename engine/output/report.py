"""Reports: a `CaseResult` as text, JSON, Markdown or HTML. Functions return strings; only the CLI prints.

Reports never compute a verdict, a figure or a margin: they format what evaluation
found. Output is deterministic (no clock, no dict-order surprises), so the same inputs
give byte-identical reports; each records the rule-set version and the hashes of the
rules and of the case.
"""

from __future__ import annotations

import json
from typing import Any

from ..common.errors import EXIT_ELIGIBLE, EXIT_NOT_ELIGIBLE, EXIT_UNDETERMINED
from ..common.sanitize import escape as escape_echoed
from ..decide.results import (NOT_COUNTED, BreakEven, CaseResult, Comparison, FigureValue, PartResult, RuleResult, Status,
                              Verdict)
from ..input.units import RATIO, UNITS, Quantity, canonical_text, display_unit_for, fen_text, format_quantity
from ..rules.expression import SYMBOL

EXIT_CODES = {Verdict.eligible: EXIT_ELIGIBLE, Verdict.not_eligible: EXIT_NOT_ELIGIBLE,
              Verdict.undetermined: EXIT_UNDETERMINED}
STATUS_MARK = {Status.passed: "PASS", Status.failed: "FAIL", Status.not_applicable: "N/A",
               Status.not_in_force: "NOT IN FORCE", Status.undetermined: "UNDETERMINED"}
VERDICT_TEXT = {Verdict.eligible: "ELIGIBLE", Verdict.not_eligible: "NOT ELIGIBLE",
                Verdict.undetermined: "UNDETERMINED"}


def exit_code(result: CaseResult) -> int:
    return EXIT_CODES[result.verdict]


def printable(lines: list[str]) -> str:
    """The report's lines joined, each escaped: echoed input (an issuer's name, a case id, a file name)
    cannot add a line of its own, ring a bell or reorder text with a bidi override."""
    return "\n".join(escape_echoed(line) for line in lines) + "\n"


# ---------------------------------------------------------------------------------
# Pieces shared by the text and Markdown reports


def format_value(value: Any, unit: str | None = None) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Quantity):
        symbol = unit if unit in UNITS and UNITS[unit].dim == value.dim else display_unit_for(value)
        return format_quantity(value, symbol)
    return str(value)


def format_margin(comparison: Comparison) -> str:
    """`+1,746.2175万元 (+58.21%)`, or `+0.2833 pp` for a ratio."""
    margin = comparison.margin
    if margin is None:
        return ""
    if margin.dim == RATIO and comparison.display_unit in ("%", None):
        points = format_quantity(Quantity(margin.value * 100, RATIO), "", signed=True, max_places=4)
        return f"{points} pp"
    text = format_quantity(margin, _unit_for(comparison, margin), signed=True)
    if comparison.relative_margin is not None:
        text += f" ({format_quantity(comparison.relative_margin, '%', signed=True, max_places=2)})"
    return text


def _unit_for(comparison: Comparison, value: Quantity) -> str:
    unit = comparison.display_unit
    return unit if unit in UNITS and UNITS[unit].dim == value.dim else display_unit_for(value)


def format_comparison(comparison: Comparison) -> str:
    """`post_issue_share_capital: 4,746.2175万元 ≥ 3,000万元, margin +1,746.2175万元 (+58.21%) ✓`."""
    mark = {True: "✓", False: "✗", None: "?"}[comparison.holds]
    if comparison.margin is None and isinstance(comparison.left_value, (bool, type(None))) and \
            comparison.op == "==" and comparison.right in ("true", "false"):
        state = {True: "yes", False: "no", None: "not stated"}[comparison.left_value]
        return f"{comparison.text} {mark} ({comparison.left}: {state})"
    left = format_value(comparison.left_value, comparison.display_unit)
    right = format_value(comparison.right_value, comparison.display_unit)
    text = f"{comparison.left} {SYMBOL[comparison.op]} {comparison.right}: {left} {SYMBOL[comparison.op]} {right}"
    margin = format_margin(comparison)
    if margin:
        text += f", margin {margin}"
    return f"{text} {mark}"


def format_figure(figure: FigureValue, rule: RuleResult | None = None) -> str:
    """`name (title) = value [= formula]`, the value in the unit the rule's threshold is written in."""
    unit = next((c.display_unit for c in (rule.comparisons if rule else ()) if c.left == figure.name), None)
    title = f" ({figure.title_zh})" if figure.title_zh else ""
    value = format_value(figure.value, unit) if figure.missing_reason is None else f"missing — {figure.missing_reason}"
    formula = f"  [= {' '.join(figure.formula.split())}]" if figure.formula else ""
    return f"{figure.name}{title} = {value}{formula}"


def citation_line(rule: RuleResult) -> str:
    if rule.citation is None:
        return "no version in force"
    period = rule.version.rsplit(", ", 1)[-1] if rule.version else ""
    return f"{rule.citation.reference()}; {period}"


def provenance_text(result: CaseResult) -> str:
    """`3 of the 5 rules that decided the verdict rest on text not read in full (quoted 1, …)`."""
    counts = result.deciding_provenance()
    total = sum(counts.values())
    if not total:
        return "no rule decided the verdict"
    partial = {k: v for k, v in counts.items() if k != "fulltext"}
    if not partial:
        return f"all {total} rules that decided the verdict were read in a full copy of the text"
    detail = ", ".join(f"{word} {partial[word]}" for word in ("quoted", "summary", "unverified") if word in partial)
    return f"{sum(partial.values())} of the {total} rules that decided the verdict rest on text not read in full ({detail})"


# ---------------------------------------------------------------------------------
# Text


def yuan(q: Quantity) -> str:
    """Money in 元 to the fen, as filings write it: 3,023,340,547.50元."""
    return fen_text(q.value) + "元"


SCREENING = "none (screening: 2.1.1（四） holds if any applicable standard holds)"

BREAK_EVEN_TITLE = "Break-even issue prices (lowest price in fen at which each market-cap standard holds)"


def _display_width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def break_even_row(item: BreakEven) -> tuple[str, str, str]:
    """(standard label, price or outcome, detail) for one break-even line, in every format."""
    label = item.standard + (" (chosen)" if item.chosen else "")
    if item.outcome == "price" and item.price is not None:
        cap = f"market cap {yuan(item.market_cap)}" if item.market_cap is not None else ""
        return label, format_quantity(item.price, "元/股", max_places=2), cap
    text = {"no_price": "no price", "not_applicable": "n/a", "undetermined": "undetermined"}[item.outcome]
    return label, text, item.reason


def _require_explained(result: CaseResult) -> None:
    """A report shows comparisons and figures: a batch row's lean result has none to show."""
    if not result.explained:
        raise ValueError(f"{result.case_id}: evaluated without explanations (explain=False); "
                         "evaluate with explanations to report it")


def format_text(result: CaseResult, verbose: bool = False) -> str:
    """The report a compliance officer reads in a terminal."""
    _require_explained(result)
    lines = [
        f"STAR Market listing check — {result.issuer} ({result.case_id})",
        f"Verdict: {VERDICT_TEXT[result.verdict]}   (exit code {exit_code(result)})",
        f"  {result.summary}",
        "",
        f"Case:      {result.case_file}  sha256 {result.case_sha256[:16]}",
        f"Stage:     {result.stage}; case date {result.case_date.isoformat()}; rules in force on {result.as_of.isoformat()}",
        f"Rule set:  {result.rulebook_name} {result.rulebook_version}  sha256 {result.rulebook_sha256[:16]}",
        f"Chosen standard: {result.chosen_standard or SCREENING}; "
        f"standards that hold: {', '.join(result.standards_holding) or 'none'}",
        f"Law texts: {provenance_text(result)}",
        *[f"WARNING: {warning}" for warning in result.warnings],
    ]
    if len(result.parts) > 1:
        lines += ["", "Parts"] + [f"  {_part_line(part)}" for part in result.parts]
    main_part = result.parts[0].part if result.parts else None
    decisive = [r for r in result.results if not r.informational and r.status not in NOT_COUNTED
                and r.part == main_part]
    alternatives = [r for r in result.results if r.informational or r.chosen]
    inapplicable = [r for r in result.results if not r.informational and not r.chosen
                    and r.status in NOT_COUNTED]
    lines += ["", result.parts[0].title_en if result.parts else "Rules"]
    for rule in decisive:
        lines += _text_rule(rule, verbose=True)
    for part in result.parts[1:]:
        rules = [r for r in result.results if r.part == part.part and r.status not in NOT_COUNTED]
        if rules:
            lines += ["", f"{part.title_en} ({part.title_zh})"]
            for rule in rules:
                lines += _text_rule(rule, verbose=True, consequence=part.consequences)
    if alternatives:
        lines += ["", "Market-cap and financial standards (the chosen one decides; the others are for information)"
                  if result.chosen_standard else
                  "Market-cap and financial standards (screening: each that holds, with its margins)"]
        for rule in alternatives:
            if rule.status in NOT_COUNTED and not verbose:
                continue
            screened = result.chosen_standard is None and rule.status == Status.passed
            lines += _text_rule(rule, verbose=verbose or rule.chosen or screened)
    if inapplicable:
        lines += ["", "Not applicable, or not in force on the date"]
        for rule in inapplicable:
            lines.append(f"  [{STATUS_MARK[rule.status]}] {rule.rule_id}  {rule.title_zh}: {rule.reason}")
    if result.break_even:
        lines += ["", BREAK_EVEN_TITLE]
        rows = [(item, *break_even_row(item)) for item in result.break_even]
        width = max([20] + [_display_width(label) + 1 for _, label, _, _ in rows])  # 证监会公告 labels are wider
        for item, label, price, detail in rows:
            pad = " " * (width - _display_width(label))
            lines.append(f"  {label}{pad} {price:<14} {item.title_zh}" + (f" — {detail}" if detail else ""))
    if result.attestations:
        lines += ["", "Attested judgments"]
        for item in result.attestations:
            holds = "holds" if item.holds else "does NOT hold"
            by = f", attested by {item.attested_by}" if item.attested_by else ""
            lines.append(f"  {item.name} ({item.title_zh}): {holds}{by}")
            for evidence in item.evidence:
                lines.append(f"      evidence: {evidence}")
    lines += ["", "Rule versions used"] + [f"  {v}" for v in result.versions_used]
    return printable(lines)


def _part_line(part: PartResult) -> str:
    if part.consequences:
        return f"{part.title_zh} {part.title_en}: {part.summary} [consequences, not conditions]"
    role = "counts for the verdict" if part.counts else "reported only (count it with --require " + part.part + ")"
    return f"{part.title_zh} {part.title_en}: {_part_verdict(part)} — {part.summary} [{role}]"


def _part_verdict(part: PartResult) -> str:
    if part.consequences:
        return "CONSEQUENCES"
    if not part.encoded:
        return "NOT ENCODED"
    return VERDICT_TEXT[part.verdict] if part.applicable else "N/A"


CONSEQUENCE_MARK = {Status.passed: "APPLIES", Status.failed: "DOES NOT APPLY", Status.not_applicable: "N/A",
                    Status.not_in_force: "NOT IN FORCE", Status.undetermined: "UNDETERMINED"}


def status_label(rule: RuleResult, consequence: bool = False) -> str:
    """PASS/FAIL/N/A/UNDETERMINED; for a consequence, whether it applies."""
    if rule.guideline and rule.status == Status.failed:
        return "EXCEEDS GUIDELINE"
    return (CONSEQUENCE_MARK if consequence else STATUS_MARK)[rule.status]


def _text_rule(rule: RuleResult, verbose: bool, consequence: bool = False) -> list[str]:
    chosen = " (chosen)" if rule.chosen else ""
    standard = f" {rule.standard}" if rule.standard else ""
    lines = [f"  [{status_label(rule, consequence)}] {rule.rule_id}{standard}{chosen}  {rule.title_zh}",
             f"      {rule.title_en}",
             f"      → {rule.reason}"]
    for comparison in rule.applicability:
        lines.append(f"      applies when {format_comparison(comparison)}")
    for comparison in rule.comparisons:
        lines.append(f"      {format_comparison(comparison)}")
    if verbose:
        for figure in rule.figures:
            if figure.formula or figure.missing_reason:
                lines.append(f"      figure: {format_figure(figure, rule)}")
        lines.append(f"      cite: {citation_line(rule)}")
        if rule.citation:
            lines.append(f"      text: {rule.citation.provenance_note()}")
            for quote_line in rule.citation.display_quote.splitlines():
                lines.append(f"            “{quote_line}”")
    return lines


# ---------------------------------------------------------------------------------
# JSON


def to_data(result: CaseResult) -> dict[str, Any]:
    """The whole result as plain JSON-able data (quantities exact, with display text)."""
    _require_explained(result)
    return {
        "verdict": result.verdict.value,
        "exit_code": exit_code(result),
        "summary": result.summary,
        "case": {"id": result.case_id, "file": result.case_file, "sha256": result.case_sha256,
                 "issuer": result.issuer, "stage": result.stage, "date": result.case_date.isoformat()},
        "as_of": result.as_of.isoformat(),
        "rulebook": {"name": result.rulebook_name, "version": result.rulebook_version,
                     "sha256": result.rulebook_sha256},
        "chosen_standard": result.chosen_standard,
        "standards_holding": list(result.standards_holding),
        "warnings": list(result.warnings),
        "deciding_provenance": result.deciding_provenance(),
        "parts": [{"id": p.part, "title": {"zh": p.title_zh, "en": p.title_en}, "verdict": p.verdict.value,
                   "summary": p.summary, "counts_for_verdict": p.counts, "applicable": p.applicable,
                   "encoded": p.encoded, "consequences": p.consequences} for p in result.parts],
        "rules": [_rule_data(result, rule) for rule in result.results],
        "attestations": [{"name": a.name, "title": a.title_zh, "holds": a.holds, "attested_by": a.attested_by,
                          "evidence": list(a.evidence)} for a in result.attestations],
        "versions_used": list(result.versions_used),
        "break_even": [{"standard": b.standard, "rule": b.rule_id, "chosen": b.chosen, "outcome": b.outcome,
                        "price": _value_data(b.price) if b.price is not None else None,
                        "market_cap": _value_data(b.market_cap) if b.market_cap is not None else None,
                        "reason": b.reason} for b in result.break_even],
    }


def _rule_data(result: CaseResult, rule: RuleResult) -> dict[str, Any]:
    citation = None
    if rule.citation:
        c = rule.citation
        citation = {"instrument": c.instrument_title.zh, "instrument_en": c.instrument_title.en,
                    "instrument_id": c.instrument_id, "document": c.document, "edition": c.edition_id,
                    "edition_date": c.edition_date.isoformat(), "article": c.article, "item": c.item,
                    "reference": c.reference(), "quote": c.display_quote, "quote_as_read": c.quote,
                    "script_as_read": c.script, "provenance": c.provenance,
                    "provenance_note": c.provenance_note(), "source": c.source}
    return {
        "id": rule.rule_id, "part": rule.part, "title": {"zh": rule.title_zh, "en": rule.title_en},
        "status": rule.status.value,
        "reason": rule.reason, "counts_for_verdict": result.counts_for_verdict(rule), "standard": rule.standard,
        "group": rule.group, "chosen": rule.chosen, "severity": "guideline" if rule.guideline else "condition",
        "version": rule.version, "citation": citation,
        "condition": rule.condition, "applies_when": rule.applies_when,
        "comparisons": [_comparison_data(c) for c in rule.comparisons],
        "applicability": [_comparison_data(c) for c in rule.applicability],
        "figures": [{"name": f.name, "title": f.title_zh, "value": _value_data(f.value), "formula": f.formula,
                     "missing": f.missing_reason} for f in rule.figures],
        "missing": list(rule.missing),
        "durable_rules_fired": list(rule.durable_rules_fired),
    }


def _comparison_data(c: Comparison) -> dict[str, Any]:
    return {"text": c.text, "left": c.left, "op": c.op, "right": c.right,
            "left_value": _value_data(c.left_value, c.display_unit),
            "threshold": _value_data(c.right_value, c.display_unit), "holds": c.holds,
            "margin": _value_data(c.margin, c.display_unit), "margin_text": format_margin(c) or None,
            "relative_margin": _value_data(c.relative_margin, "%"), "selector": c.selector}


def _value_data(value: Any, unit: str | None = None) -> Any:
    if isinstance(value, Quantity):
        base = {"money": "元", "shares": "股", "price": "元/股", "ratio": "1"}.get(value.dim.name, value.dim.name)
        return {"exact": canonical_text(value), "base_unit": base, "text": format_value(value, unit)}
    return value


def format_json(result: CaseResult) -> str:
    return json.dumps(to_data(result), ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------------------------
# Markdown


def format_markdown(result: CaseResult) -> str:
    """The same content for filing: a summary table, then each rule with its quoted article."""
    _require_explained(result)
    out = [
        f"# STAR Market listing check: {result.issuer}",
        "",
        f"**Verdict: {VERDICT_TEXT[result.verdict]}** — {result.summary}",
        "",
        "| | |", "|---|---|",
        f"| Case | `{result.case_file}` (`{result.case_id}`), sha256 `{result.case_sha256[:16]}` |",
        f"| Stage | {result.stage}; case date {result.case_date.isoformat()}; rules in force on {result.as_of.isoformat()} |",
        f"| Rule set | {result.rulebook_name} {result.rulebook_version}, sha256 `{result.rulebook_sha256[:16]}` |",
        f"| Chosen standard | {result.chosen_standard or SCREENING} |",
        f"| Standards that hold | {', '.join(result.standards_holding) or 'none'} |",
        f"| Law texts | {_md_escape(provenance_text(result))} |",
        *[f"| **Warning** | {_md_escape(w)} |" for w in result.warnings],
        *[f"| {p.title_zh} {p.title_en} | {_part_verdict(p)}"
          f"{'' if p.counts else ' (reported only)'}: {_md_escape(p.summary)} |" for p in result.parts],
        "",
        "## Rules",
        "",
        "| Status | Rule | Title | Counts | Reason |",
        "|---|---|---|---|---|",
    ]
    for rule in result.results:
        counts = "yes" if result.counts_for_verdict(rule) else "no"
        out.append(f"| {status_label(rule, result.is_consequence(rule))} | `{rule.rule_id}` | {rule.title_zh} | {counts} | "
                   f"{_md_escape(rule.reason)} |")
    out += ["", "## Details", ""]
    for rule in result.results:
        if rule.version is None:
            continue
        out += [f"### {status_label(rule, result.is_consequence(rule))} `{rule.rule_id}` {rule.title_zh}", "",
                f"*{rule.title_en}*", ""]
        for comparison in rule.applicability:
            out.append(f"- applies when {_md_escape(format_comparison(comparison))}")
        for comparison in rule.comparisons:
            out.append(f"- {_md_escape(format_comparison(comparison))}")
        for figure in rule.figures:
            if figure.formula or figure.missing_reason:
                out.append(f"- figure: {_md_escape(format_figure(figure, rule))}")
        out += ["", f"Citation: {citation_line(rule)}", ""]
        if rule.citation:
            out += [f"Text: {_md_escape(rule.citation.provenance_note())}", ""]
            out += [f"> {line}" for line in rule.citation.display_quote.splitlines()] + [""]
    if result.break_even:
        out += [f"## {BREAK_EVEN_TITLE}", "", "| Standard | Price | Title | Detail |", "|---|---|---|---|"]
        for item in result.break_even:
            label, price, detail = break_even_row(item)
            out.append(f"| {label} | {price} | {_md_escape(item.title_zh)} | {_md_escape(detail)} |")
        out.append("")
    if result.attestations:
        out += ["## Attested judgments", ""]
        for item in result.attestations:
            out.append(f"- **{item.name}** ({item.title_zh}): {'holds' if item.holds else 'does not hold'}"
                       + (f", attested by {item.attested_by}" if item.attested_by else ""))
            out += [f"  - evidence: {e}" for e in item.evidence]
        out.append("")
    out += ["## Rule versions used", ""] + [f"- {v}" for v in result.versions_used]
    return printable(out)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


# ---------------------------------------------------------------------------------
# HTML: one self-contained, printable file (no scripts, no fonts or styles fetched)

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
 margin:2em;color:#111;font-size:11pt;line-height:1.45}
h1{font-size:17pt;margin:0 0 .3em} h2{font-size:13pt;margin:1.4em 0 .4em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:.4em 0} th,td{border:1px solid #bbb;padding:.25em .45em;
 vertical-align:top;text-align:left} th{background:#f0f0f0}
.verdict{font-size:14pt;font-weight:bold;padding:.4em .6em;display:inline-block;border:2px solid}
.eligible,.pass{color:#0a5c1f} .not_eligible,.fail{color:#9b1111} .undetermined{color:#8a5a00}
.not_applicable{color:#666} blockquote{margin:.3em 0 .3em 1em;padding-left:.6em;border-left:3px solid #999;
 color:#333} .provenance{font-size:9pt;color:#444} .provenance.summary,.provenance.unverified{color:#8a5a00}
.warning{color:#9b1111;font-weight:bold} .meta td:first-child{width:11em;font-weight:bold}
.rule{page-break-inside:avoid;margin:.6em 0 1em} .small{font-size:9pt;color:#444}
@media print{body{margin:1cm} a{color:inherit;text-decoration:none}}
"""


def format_html(result: CaseResult) -> str:
    """The report for filing: verdict, parts, every rule with its figures, citation and quoted text."""
    _require_explained(result)
    from html import escape

    def e(text: str) -> str:
        return escape(escape_echoed(text))

    def cls(value: str) -> str:
        return value.replace(" ", "_")

    rows = []
    for part in result.parts:
        rows.append(f"<tr><td>{e(part.title_zh)} {e(part.title_en)}</td>"
                    f"<td class='{cls(part.verdict.value)}'>{e(_part_verdict(part))}</td>"
                    f"<td>{e(part.summary)}</td><td>{'yes' if part.counts else 'reported only'}</td></tr>")
    summary_rows = []
    for rule in result.results:
        counts = "yes" if result.counts_for_verdict(rule) else "no"
        summary_rows.append(f"<tr><td class='{cls(rule.status.value)}'>{e(status_label(rule, result.is_consequence(rule)))}</td>"
                            f"<td><code>{e(rule.rule_id)}</code></td><td>{e(rule.title_zh)}<br>"
                            f"<span class='small'>{e(rule.title_en)}</span></td><td>{counts}</td>"
                            f"<td>{e(rule.reason)}</td></tr>")
    details = []
    for rule in result.results:
        if rule.version is None:
            continue
        items = [f"<li>applies when {e(format_comparison(c))}</li>" for c in rule.applicability]
        items += [f"<li>{e(format_comparison(c))}</li>" for c in rule.comparisons]
        items += [f"<li>figure: {e(format_figure(f, rule))}</li>" for f in rule.figures if f.formula or f.missing_reason]
        quote = ""
        if rule.citation:
            word = rule.citation.provenance
            mark = f" <span class='provenance {word}'>{e(rule.citation.provenance_note())}</span>"
            quote = (f"<p>{e(citation_line(rule))}<br>{mark}</p>"
                     + "".join(f"<blockquote>{e(line)}</blockquote>" for line in rule.citation.display_quote.splitlines()))
        details.append(f"<div class='rule'><h3 class='{cls(rule.status.value)}'>{e(status_label(rule, result.is_consequence(rule)))} "
                       f"<code>{e(rule.rule_id)}</code> {e(rule.title_zh)}</h3>"
                       f"<p class='small'>{e(rule.title_en)} — {e(rule.reason)}</p>"
                       f"<ul>{''.join(items)}</ul>{quote}</div>")
    attested = "".join(
        f"<tr><td><code>{e(a.name)}</code><br>{e(a.title_zh)}</td><td>{'holds' if a.holds else 'does not hold'}</td>"
        f"<td>{e(a.attested_by or '')}</td><td>{'<br>'.join(e(x) for x in a.evidence)}</td></tr>"
        for a in result.attestations)
    versions = "".join(f"<li>{e(v)}</li>" for v in result.versions_used)
    break_even = ""
    if result.break_even:
        break_even_lines = [(b, *break_even_row(b)) for b in result.break_even]
        cells = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in (label, price, b.title_zh, detail)) + "</tr>"
                        for b, label, price, detail in break_even_lines)
        break_even = (f"<h2>{e(BREAK_EVEN_TITLE)}</h2>"
                      f"<table><tr><th>Standard</th><th>Price</th><th>Title</th><th>Detail</th></tr>{cells}</table>")
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>STAR Market listing check: {e(result.issuer)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>STAR Market listing check 科创板上市条件核查: {e(result.issuer)}</h1>
<p class="verdict {cls(result.verdict.value)}">{e(VERDICT_TEXT[result.verdict])}</p>
<p>{e(result.summary)}</p>
<table class="meta">
<tr><td>Case</td><td><code>{e(result.case_file)}</code> ({e(result.case_id)}), sha256 <code>{e(result.case_sha256)}</code></td></tr>
<tr><td>Stage</td><td>{e(result.stage)}; case date {result.case_date.isoformat()}; rules in force on {result.as_of.isoformat()}</td></tr>
<tr><td>Rule set</td><td>{e(result.rulebook_name)} {e(result.rulebook_version)}, sha256 <code>{e(result.rulebook_sha256)}</code></td></tr>
<tr><td>Chosen standard</td><td>{e(result.chosen_standard or SCREENING)}</td></tr>
<tr><td>Standards that hold</td><td>{e(', '.join(result.standards_holding) or 'none')}</td></tr>
<tr><td>Law texts</td><td>{e(provenance_text(result))}</td></tr>
{''.join(f"<tr><td class='warning'>Warning</td><td class='warning'>{e(w)}</td></tr>" for w in result.warnings)}
</table>
<h2>Parts</h2>
<table><tr><th>Part</th><th>Verdict</th><th>Summary</th><th>Counts</th></tr>{''.join(rows)}</table>
<h2>Rules</h2>
<table><tr><th>Status</th><th>Rule</th><th>Title</th><th>Counts</th><th>Reason</th></tr>{''.join(summary_rows)}</table>
<h2>Details, figures and citations</h2>
{''.join(details)}
{break_even}
<h2>Attested judgments</h2>
<table><tr><th>Judgment</th><th>Attested</th><th>By</th><th>Evidence</th></tr>{attested}</table>
<h2>Rule versions used</h2>
<ul>{versions}</ul>
</body>
</html>
"""

# ---------------------------------------------------------------------------------
# Price sweeps (check-listing price)


def _sweep_row(result: CaseResult) -> tuple[Quantity | None, str]:
    chosen = next((r for r in result.results if r.chosen), None)
    cap = next((c.left_value for c in (chosen.comparisons if chosen else ()) if c.left == "market_cap"), None)
    return (cap if isinstance(cap, Quantity) else None), ", ".join(result.standards_holding) or "none"


ABORT_TEXT = {True: "ABORT", False: "proceeds", None: "undetermined"}


def sweep_text(rows: list[tuple[Any, CaseResult, bool | None]]) -> str:
    """One line per price: market cap, standards that hold, whether the chosen one holds, abort."""
    if not rows:
        return ""
    first = rows[0][1]
    lines = [f"Issue-price sweep — {first.issuer} ({first.case_id}); chosen standard {first.chosen_standard or '-'}",
             f"{'price':>12}  {'market cap':>22}  {'issuance':<12}  standards that hold"]
    for price, result, aborted in rows:
        cap, holding = _sweep_row(result)
        cap_text = yuan(cap) if cap is not None else "-"
        lines.append(f"{price:>10f}元  {cap_text:>22}  {ABORT_TEXT[aborted]:<12}  {holding}")
    return printable(lines)


def sweep_json(rows: list[tuple[Any, CaseResult, bool | None]]) -> str:
    data = []
    for price, result, aborted in rows:
        cap, _ = _sweep_row(result)
        data.append({"price": f"{price:f}", "market_cap": _value_data(cap) if cap is not None else None,
                     "standards_holding": list(result.standards_holding), "aborts": aborted,
                     "verdict": result.verdict.value})
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


FORMATTERS = {"text": format_text, "json": format_json, "markdown": format_markdown, "html": format_html}
