#!/usr/bin/env python3
"""Batch benchmark: cases per second end to end (YAML file → stored result row), with 1 and 2
processes, next to a plain-Python floor evaluating the same listing conditions by hand.

    python scripts/benchmark.py                      # 1,000 and 10,000 generated cases
    python scripts/benchmark.py --counts 1000,10000,100000
    python scripts/benchmark.py --profile 2000       # where the time goes, one process
    python scripts/benchmark.py --sheets --counts 10000   # one workbook of N rows against N case files

The engine does everything `check-listing batch` does: load and validate the case (pydantic,
units, source lines), evaluate every rule of every part through durable_rules and cross-check it
with exact arithmetic, explain each comparison, compute break-even prices at pricing, write a
JSON Lines row. The floor is the least a program could do for the listing-eligibility verdict
(上市规则 2.1.1–2.1.4 and the market-cap abort at pricing): a C-speed YAML load, a regex for units,
Fraction arithmetic, no explanations, no citations. Its verdicts are compared with the engine's
eligibility part to show both evaluate the same rules. This is a script, not a timed test.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import re
import resource
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.batch import run_batch  # noqa: E402
from engine.generate import generate  # noqa: E402
from engine.store import ResultStore, read_rows  # noqa: E402

# ---------------------------------------------------------------------------------
# The floor: the listing conditions written by hand, for comparison only.

UNIT = {"元": 1, "万元": 10**4, "亿元": 10**8, "股": 1, "万股": 10**4, "亿股": 10**8, "元/股": 1, "%": Fraction(1, 100),
        "倍": 1, "": 1}
AMOUNT = re.compile(r"^\s*(-?[0-9,]+(?:\.[0-9]+)?)\s*(\S*)\s*$")
YI = 10**8


def amount(value, default_unit: str | None = None) -> Fraction | None:
    """An amount with its unit (or the file's declared one); a bare number without either is refused."""
    if value is None:
        return None
    match = AMOUNT.match(str(value))
    if not match or not (match.group(2) or default_unit) or (match.group(2) or default_unit) not in UNIT:
        raise ValueError(f"bad amount {value!r}")
    return Fraction(match.group(1).replace(",", "")) * UNIT[match.group(2) or default_unit]


def floor_verdict(text: str) -> str:
    """eligible / not_eligible / undetermined / error for the listing-eligibility part."""
    try:
        case = yaml.load(text, Loader=yaml.CSafeLoader)
        units = case.get("units") or {}
        money, shares = units.get("money"), units.get("shares")
        offering, issuer = case["offering"], case["issuer"]
        before, new = amount(offering["shares_before_issue"], shares), amount(offering["new_shares"], shares)
        par = amount(offering["par_value"], units.get("price"))
        if new <= 0 or before < 0:
            return "error"
        years = sorted((int(p["period"]), p) for p in case.get("financials", []) if str(p["period"]).isdigit())
    except Exception:  # noqa: BLE001 - any bad input is an error row
        return "error"
    total = before + new
    capital = total * par
    stage = case["evaluation"]["stage"]
    price = amount(offering.get("issue_price")) if stage != "filing" else None
    cap = price * total if price is not None else (amount(offering.get("expected_market_cap"), money)
                                                  if stage == "filing" else None)

    def year(k: int, name: str):
        if len(years) < k:
            return None
        value = years[-k][1].get(name)
        return amount(value, money) if value is not None else None

    def profit(k: int):
        a, b = year(k, "net_profit_parent"), year(k, "net_profit_parent_deducted")
        return None if a is None or b is None else min(a, b)

    def ge(a, b):
        return None if a is None else a >= b

    def both(*xs):
        return False if False in xs else None if None in xs else True

    def either(*xs):
        return True if True in xs else None if None in xs else False

    attest = {k: v.get("holds") for k, v in (case.get("attestations") or {}).items()}
    revenue = year(1, "revenue")
    rd = [year(k, "rd_investment") for k in (1, 2, 3)]
    rev3 = [year(k, "revenue") for k in (1, 2, 3)]
    ocf = [year(k, "operating_cash_flow") for k in (1, 2, 3)]
    p1, p2 = profit(1), profit(2)
    red, wvr = issuer.get("red_chip"), issuer.get("weighted_voting_rights")
    standards = {
        "2.1.2(1)": both(ge(cap, 10 * YI), either(both(p1 is not None and p1 > 0 if p1 is not None else None,
                                                       p2 is not None and p2 > 0 if p2 is not None else None,
                                                       ge(None if None in (p1, p2) else p1 + p2, 5000 * 10**4)),
                                                  both(p1 > 0 if p1 is not None else None, ge(revenue, YI)))),
        "2.1.2(2)": both(ge(cap, 15 * YI), ge(revenue, 2 * YI),
                         None if None in rd + rev3 or not sum(rev3) else sum(rd) / sum(rev3) >= Fraction(15, 100)),
        "2.1.2(3)": both(ge(cap, 20 * YI), ge(revenue, 3 * YI), None if None in ocf else sum(ocf) >= YI),
        "2.1.2(4)": both(ge(cap, 30 * YI), ge(revenue, 3 * YI)),
        "2.1.2(5)": both(ge(cap, 40 * YI), attest.get("major_business_approved"), attest.get("large_market_space"),
                         attest.get("staged_results_achieved"),
                         attest.get("core_product_phase2_approved") if issuer.get("pharmaceutical")
                         else attest.get("clear_technological_advantage")),
        "2.1.3(1)": both(attest.get("red_chip_innovation_profile"), ge(cap, 100 * YI)),
        "2.1.3(2)": both(attest.get("red_chip_innovation_profile"), ge(cap, 50 * YI), ge(revenue, 5 * YI)),
        "2.1.4(1)": ge(cap, 100 * YI),
        "2.1.4(2)": both(ge(cap, 50 * YI), ge(revenue, 5 * YI)),
    }
    applies = {s: (not red and not wvr) if s.startswith("2.1.2") else
               (red and not issuer.get("listed_abroad")) if s.startswith("2.1.3") else wvr for s in standards}
    label = str(case.get("chosen_standard", "")).replace("（", "(").replace("）", ")")
    label = re.sub(r"\((一|二|三|四|五)\)", lambda m: f"({'一二三四五'.index(m.group(1)) + 1})", label)
    chosen = (standards.get(label) if applies.get(label) else False) if label else None
    float_ok = new / total >= (Fraction(1, 10) if capital > 4 * YI else Fraction(1, 4))
    checks = [attest.get("issuance_conditions_met"), capital >= 3000 * 10**4, float_ok, chosen,
              attest.get("other_listing_conditions_met")]
    if False in checks:
        return "not_eligible"
    return "undetermined" if None in checks else "eligible"


def run_floor(files: list[Path], out: Path) -> list[str]:
    verdicts = []
    with out.open("w", encoding="utf-8") as stream:
        for path in files:
            verdict = floor_verdict(path.read_text(encoding="utf-8"))
            verdicts.append(verdict)
            stream.write(json.dumps({"file": str(path), "verdict": verdict}) + "\n")
    return verdicts


# ---------------------------------------------------------------------------------


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - start, value


def engine_run(files: list[Path], out: Path, jobs: int) -> None:
    with ResultStore(out) as store:
        run_batch(files, store, jobs=jobs)


def eligibility_verdicts(out: Path, files: list[Path]) -> list[str]:
    """The engine's verdict for the eligibility part alone (the floor's scope), from a fresh run."""
    from engine import Evaluator, load_case_text, load_rulebook
    from engine.errors import InputError

    verdicts = []
    with Evaluator(load_rulebook()) as evaluator:
        for path in files:
            try:
                result = evaluator.evaluate(load_case_text(path.read_text(encoding="utf-8"), str(path)))
            except InputError:
                verdicts.append("error")
                continue
            parts = {p.part: p for p in result.parts}
            eligibility = parts["eligibility"].verdict.value
            aborted = parts["abort"].verdict.value if result.stage != "filing" else "eligible"
            verdicts.append("not_eligible" if "not_eligible" in (eligibility, aborted)
                            else "undetermined" if "undetermined" in (eligibility, aborted) else "eligible")
    return verdicts


def sheet_run(count: int, work: Path, jobs: list[int], seed: int) -> None:
    """The same valid cases as N YAML files and as one N-row workbook: cases/s of each, and the
    workbook's read time alone (the rows are read in the parent, evaluated in the workers)."""
    from engine.batch import expand_sheets
    from engine.case import load_case
    from engine.errors import InputError
    from engine.rulebook import load_rulebook
    from engine.sheetrules import vocabulary
    from engine.sheets import cases_to_sheet, read_sheet

    files, cases = [], []
    for path in generate(count, work / f"sheet-cases-{count}", seed=seed):
        try:
            cases.append(load_case(path).case)
            files.append(path)
        except InputError:
            continue  # a deliberately bad case file: a sheet holds only valid cases
    book = work / f"issuers-{count}.xlsx"
    write_seconds, _ = timed(cases_to_sheet, cases, book, vocabulary(load_rulebook()))
    read_seconds, rows = timed(read_sheet, book)
    print(f"{len(cases):,} valid cases; workbook {book.stat().st_size / 1e6:.1f} MB written in {write_seconds:.1f} s, "
          f"read in {read_seconds:.1f} s ({len(rows) / read_seconds:,.0f} rows/s)")
    print(f"{'jobs':>6}{'YAML files c/s':>16}{'workbook c/s':>14}")
    for j in jobs:
        yaml_seconds, _ = timed(engine_run, files, work / f"yaml-{j}.jsonl", j)
        sheet_seconds, _ = timed(lambda: engine_run(expand_sheets([book]), work / f"sheet-{j}.jsonl", j))
        print(f"{j:>6}{len(files) / yaml_seconds:>16,.0f}{len(rows) / sheet_seconds:>14,.0f}", flush=True)
        verdicts = [[r["verdict"] for r in read_rows(work / f"{kind}-{j}.jsonl")] for kind in ("yaml", "sheet")]
        assert verdicts[0] == verdicts[1], "the workbook and the case files disagree"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1000,10000", help="comma-separated batch sizes")
    parser.add_argument("--jobs", default="1,2", help="comma-separated process counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, metavar="N", help="profile N cases in one process and stop")
    parser.add_argument("--sheets", action="store_true", help="compare an N-row workbook with N case files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="star-bench-"))
    try:
        if args.sheets:
            print(f"machine: {machine()}")
            for count in (int(c) for c in args.counts.split(",")):
                sheet_run(count, work, [int(j) for j in args.jobs.split(",")], args.seed)
            return 0
        if args.profile:
            files = generate(args.profile, work / "cases", seed=args.seed)
            profile = cProfile.Profile()
            profile.enable()
            engine_run(files, work / "p.jsonl", 1)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
            return 0
        print(f"machine: {machine()}")
        jobs = [int(j) for j in args.jobs.split(",")]
        header = f"{'cases':>8} " + "".join(f"{f'engine {j}p c/s':>16}" for j in jobs) + f"{'floor c/s':>12}" \
                 f"{'engine/floor':>14}{f'seconds ({jobs[0]}p)':>14}{'peak MB':>9}"
        print(header)
        for count in (int(c) for c in args.counts.split(",")):
            files = generate(count, work / f"cases-{count}", seed=args.seed)
            rates = {}
            for j in jobs:
                seconds, _ = timed(engine_run, files, work / f"engine-{count}-{j}.jsonl", j)
                rates[j] = count / seconds
            floor_seconds, floor = timed(run_floor, files, work / f"floor-{count}.jsonl")
            floor_rate = count / floor_seconds
            line = f"{count:>8,} " + "".join(f"{rates[j]:>16,.0f}" for j in jobs) + f"{floor_rate:>12,.0f}"
            line += f"{floor_rate / rates[jobs[0]]:>13.1f}x{count / rates[jobs[0]]:>14.1f}"
            worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            line += f"{max(worker, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024):>9.0f}"
            print(line, flush=True)
            if count <= 10_000:
                engine = eligibility_verdicts(work / "check.jsonl", files)
                agree = sum(a == b for a, b in zip(engine, floor))
                print(f"{'':>9}floor and engine agree on the eligibility verdict for {agree:,}/{count:,} cases"
                      " (the floor does not refuse unknown fields)")
                stored = list(read_rows(work / f"engine-{count}-{jobs[0]}.jsonl"))
                assert len(stored) == count
            shutil.rmtree(work / f"cases-{count}")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak memory: {own:.0f} MB this process, {children:.0f} MB largest worker")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
