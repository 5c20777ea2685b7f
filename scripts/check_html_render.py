#!/usr/bin/env python3
"""Render the HTML report in headless Chromium and check it, as a compliance officer would print it.

For each case: write the report with `check-listing CASE --format html`, then let Chromium (Debian's
`chromium` package) load it from disk three times — DOM dump, screenshot, print to PDF — with a network log.
The check fails when Chromium exits non-zero, the rendered DOM lacks the verdict or a rule, the page logs a
console error, the PDF is not a PDF, or the page itself requested anything over the network (the report must
be self-contained; Chromium's own background traffic is told apart by its initiator).

    python scripts/check_html_render.py [CASE ...] [--out-dir DIR]

Exit 0 when every case renders cleanly, 1 when a check fails, 2 when Chromium is not installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--log-level=0",
         "--window-size=1200,1800"]
BROWSER_ORIGIN = "not an origin"  # the initiator Chromium's net log gives its own background requests


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def chromium(browser: str, page: Path, work: Path, *action: str) -> subprocess.CompletedProcess[str]:
    """Run one headless Chromium action on a local file with a fresh profile and a network log."""
    profile = Path(tempfile.mkdtemp(dir=work, prefix="profile-"))
    net_log = work / f"net-{action[0].lstrip('-').split('=')[0]}.json"
    return subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={net_log}", *action, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


def page_requests(work: Path) -> list[str]:
    """URLs requested on behalf of the page (not by the browser itself) in every network log of `work`."""
    found = []
    for log in sorted(work.glob("net-*.json")):
        text = log.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
        if not text.endswith("}"):
            text += "]}"  # Chromium may leave the events array open when it exits
        try:
            events = json.loads(text).get("events", [])
        except json.JSONDecodeError:
            found.append(f"(unreadable network log {log.name})")
            continue
        for event in events:
            params = event.get("params", {})
            url = params.get("url", "")
            if "initiator" in params and params["initiator"] != BROWSER_ORIGIN and not url.startswith("file:"):
                found.append(url)
    return sorted(set(found))


def check_page(browser: str, page: Path, expected: list[str], out_dir: Path) -> list[str]:
    """Every problem Chromium shows with one HTML page (empty when it renders cleanly)."""
    problems: list[str] = []
    work = Path(tempfile.mkdtemp(prefix=f"render-{page.stem}-"))
    try:
        dom = chromium(browser, page, work, "--dump-dom")
        shot = out_dir / f"{page.stem}.png"
        pdf = out_dir / f"{page.stem}.pdf"
        runs = {"dump-dom": dom,
                "screenshot": chromium(browser, page, work, f"--screenshot={shot}"),
                "print-to-pdf": chromium(browser, page, work, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")}
        for name, run in runs.items():
            if run.returncode != 0:
                problems.append(f"chromium --{name} exited {run.returncode}: {run.stderr.strip()[-500:]}")
        # The report has no scripts: any console message (an error, a failed resource) is a defect.
        problems += sorted({f"console: {line.split('] ', 1)[-1].strip()}"
                            for line in dom.stderr.splitlines() if ":CONSOLE" in line})
        problems += [f"rendered page lacks {text!r}" for text in expected if text not in dom.stdout]
        if not shot.exists() or shot.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            problems.append("no PNG screenshot")
        if not pdf.exists() or pdf.read_bytes()[:5] != b"%PDF-":
            problems.append("no PDF")
        problems += [f"the page requested {url}" for url in page_requests(work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return problems


def check_case(browser: str, case: Path, out_dir: Path) -> list[str]:
    """Write one case's HTML report and check it renders with its verdict and every rule."""
    page = out_dir / f"{case.stem}.html"
    made = subprocess.run([sys.executable, "-m", "engine.frontends.cli", str(case), "--format", "html", "-o", str(page)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if made.returncode not in (0, 1, 3) or not page.exists():
        return [f"check-listing failed ({made.returncode}): {made.stderr.strip()}"]
    report = json.loads(subprocess.run([sys.executable, "-m", "engine.frontends.cli", str(case), "--format", "json"],
                                       capture_output=True, text=True, cwd=ROOT, check=False).stdout)
    expected = [report["verdict"].replace("_", " ").upper()] + [rule["id"] for rule in report["rules"]]
    return check_page(browser, page, expected, out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", type=Path, default=[ROOT / "cases" / "qingcloud-filing.yaml"])
    parser.add_argument("--out-dir", type=Path, default=None, help="where HTML, PNG and PDF go (default: a temp dir)")
    args = parser.parse_args(argv)
    browser = find_browser()
    if browser is None:
        print("chromium not found (Debian: apt-get install chromium fonts-noto-cjk)", file=sys.stderr)
        return 2
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="html-report-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    for case in args.cases:
        problems = check_case(browser, case.resolve(), out_dir)
        failed |= bool(problems)
        status = "FAIL" if problems else "ok"
        print(f"{status:4} {case}  →  {out_dir / (case.stem + '.html')}, .png, .pdf")
        for problem in problems:
            print(f"     {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
