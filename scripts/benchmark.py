#!/usr/bin/env python3
"""Batch benchmark: cases per second end to end (YAML file → stored SQLite row), with 1 and 2
processes, next to an honest plain-Python floor, the ratio measured in the same run.

    python scripts/benchmark.py                      # 1,000 and 10,000 generated cases
    python scripts/benchmark.py --counts 1000,10000,100000 --repeat 1
    python scripts/benchmark.py --profile 2000       # where the time goes, one process
    python scripts/benchmark.py --sheets --counts 10000   # one workbook of N rows against N case files

The engine does everything `check-listing batch` does: load and validate the case (pydantic,
units, source lines), decide every rule of every part through durable_rules and cross-check it
with exact arithmetic, write a SQLite row per case and one per rule result. The floor is the least
an honest program could do for the same verdict (上市规则 2.1.1–2.1.4 and the abort conditions):
libyaml's CSafeLoader, exact Decimal amounts with their units, full audited fiscal years before
the case's date, Kleene logic for unknowns, unknown keys refused, the file's sha256, one SQLite
row per case, in as many processes as the engine. The script prints how many verdicts agree
(all of the generated cases should: the floor refuses the deliberately bad ones too), the cold
start of `check-listing` (min and median of 10, beside `python -c pass` and the interpreter importing
the libraries a check is built on: the floor of any check) and each batch's peak memory (its largest
process).
Rounds alternate engine and floor and medians are printed, since the machine may be shared.
This is a script, not a timed test.
"""

from __future__ import annotations

import argparse
import calendar
import cProfile
import datetime as dt
import hashlib
import multiprocessing
import os
import platform
import pstats
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.frontends.batch import run_batch  # noqa: E402
from engine.input.generate import generate  # noqa: E402
from engine.output.store import ResultStore, read_rows  # noqa: E402

# ---------------------------------------------------------------------------------
# The floor: the listing conditions written by hand, for comparison only. It is meant to be the
# least an honest program could do for the same verdict, not a straw man: C-speed YAML, exact
# Decimal amounts with their units (or the file's declared ones, a bare amount refused), full
# audited fiscal years before the case's date, 上市规则 2.1.1–2.1.4 and the abort conditions in
# Kleene logic (None: unknown), unknown keys refused, the file's sha256, one SQLite row per case.

YI, WAN = Decimal(10**8), Decimal(10**4)
MONEY_UNITS = {"元": Decimal(1), "万元": WAN, "亿元": YI}
SHARE_UNITS = {"股": Decimal(1), "万股": WAN, "亿股": YI}
PRICE_UNITS = {"元": Decimal(1), "元/股": Decimal(1)}
FLOOR_AMOUNT = re.compile(r"^\s*([+-]?)\s*(?:人民币)?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(\S*)\s*$")
NUMERALS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5"}
PERIOD = re.compile(r"^(\d{4})(?:(H1)|Q([1-3])|M(\d{1,2})-(\d{1,2}))?$")
LONGER_WINDOW_FROM = dt.date(2020, 7, 10)  # statements usable 7 months after their period end before, 9 from then


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _add_months(start: dt.date, months: int) -> dt.date:
    """Same day `months` later (the month's last day if there is none, or if `start` is one)."""
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    end_of_month = start.day == calendar.monthrange(start.year, start.month)[1]
    return dt.date(year, month + 1, last if end_of_month else min(start.day, last))


def _oldest_latest_year(on: dt.date, months: int) -> int:
    """The oldest fiscal year that can still be 最近一年 on `on`."""
    end = _month_end(on.year, (on.month - 1) // 3 * 3 + 3)
    if end > on:
        end = _add_months(end, -3)
    while _add_months(_add_months(end, -3), months) >= on:
        end = _add_months(end, -3)
    return end.year if end.month == 12 else end.year - 1


STANDARD = re.compile(r"^\s*(2\.1\.[234])\s*[（(]\s*([一二三四五1-5])\s*[）)]\s*$")


class Bad(Exception):
    pass


def _keys_of(model) -> frozenset[str]:
    return frozenset(model.model_fields)


def floor_schema():
    """The keys each section of a case file may have, and the attestation names the rules know
    (read once, before timing: the floor refuses what the engine refuses)."""
    from engine.input import case as models
    from engine.rules.ruleloader import load_rulebook

    return {"case": _keys_of(models.Case), "issuer": _keys_of(models.Issuer),
            "evaluation": _keys_of(models.Evaluation), "units": _keys_of(models.Units),
            "offering": _keys_of(models.Offering), "period": _keys_of(models.FinancialPeriod),
            "attestation": _keys_of(models.Attestation), "evidence": _keys_of(models.Evidence),
            "placement": _keys_of(models.Placement), "subscription": _keys_of(models.Subscription),
            "scitech": _keys_of(models.SciTech), "sponsor": _keys_of(models.Sponsor),
            "price_range": _keys_of(models.PriceRange),
            "attestations": frozenset(load_rulebook().attestations)}


SCHEMA: dict[str, frozenset[str]] = {}


def _section(data, name: str, required: bool = False) -> dict:
    if data is None and not required:
        return {}
    if not isinstance(data, dict) or not set(data) <= SCHEMA[name]:
        raise Bad(name)
    return data


def _amount(value, units: dict, default: str | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise Bad(value)
    if isinstance(value, (int, float)):
        if default is None:
            raise Bad(value)
        return Decimal(str(value)) * units[default]
    match = FLOOR_AMOUNT.match(str(value))
    if not match:
        raise Bad(value)
    symbol = match.group(3) or default
    if symbol not in units:
        raise Bad(value)
    number = Decimal(match.group(2).replace(",", "")) * units[symbol]
    return -number if match.group(1) == "-" else number


def both(*xs):
    return False if False in xs else None if None in xs else True


def either(*xs):
    return True if True in xs else None if None in xs else False


def ge(a, b):
    return None if a is None else a >= b


def gt(a, b):
    return None if a is None else a > b


def floor_verdict(data: bytes) -> tuple[str, str]:
    """(sha256, eligible / not_eligible / undetermined / error) for listing eligibility and the
    abort conditions together."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        return digest, _floor(yaml.load(data.decode("utf-8"), Loader=yaml.CSafeLoader))
    except (Bad, yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError, KeyError, ArithmeticError):
        return digest, "error"


def _floor(case) -> str:
    case = _section(case, "case", required=True)
    units = _section(case.get("units"), "units")
    money, shares, price_unit = units.get("money"), units.get("shares"), units.get("price")
    issuer = _section(case["issuer"], "issuer", required=True)
    evaluation = _section(case["evaluation"], "evaluation", required=True)
    offering = _section(case["offering"], "offering", required=True)
    for name in ("placement", "subscription", "scitech", "sponsor"):
        _section(case.get(name), name)
    subscription = case.get("subscription") or {}
    placement = case.get("placement") or {}
    date, stage = evaluation["date"], evaluation["stage"]
    date = date if isinstance(date, dt.date) else dt.date.fromisoformat(date)
    if stage not in ("filing", "pricing", "subscription"):
        raise Bad(stage)
    before = _amount(offering["shares_before_issue"], SHARE_UNITS, shares)
    new = _amount(offering["new_shares"], SHARE_UNITS, shares)
    par = _amount(offering["par_value"], PRICE_UNITS, price_unit)
    existing = _amount(offering.get("existing_shares_offered"), SHARE_UNITS, shares) or 0
    if new <= 0 or before < 0 or par <= 0 or existing < 0:
        raise Bad(new)
    attestations = _section(case.get("attestations"), "attestations")
    attest = {}
    for name, item in attestations.items():
        item = _section(item, "attestation", required=True)
        if not isinstance(item["holds"], bool) or not item["evidence"]:
            raise Bad(name)
        for evidence in item["evidence"]:
            _section(evidence, "evidence", required=True)["document"]
        attest[name] = item["holds"]
    years: dict[str, dict] = {}
    ends = []
    for period in case.get("financials") or []:
        period = _section(period, "period", required=True)
        label = str(period["period"])
        match = PERIOD.match(label)
        if label in years or not isinstance(period["audited"], bool) or not match:
            raise Bad(label)
        year = int(match.group(1))
        month = 6 if match.group(2) else 3 * int(match.group(3)) if match.group(3) else \
            int(match.group(5)) if match.group(5) else 12
        if match.group(4) and not 1 <= int(match.group(4)) <= int(match.group(5)) <= 12:
            raise Bad(label)
        ends.append(_month_end(year, month))
        figures = {k: _amount(period.get(k), MONEY_UNITS, money) for k in
                   ("revenue", "net_profit_parent", "net_profit_parent_deducted", "rd_investment", "operating_cash_flow")}
        years[label] = figures | {"audited": period["audited"]}
    full = {int(k): v for k, v in years.items() if k.isdigit() and dt.date(int(k), 12, 31) < date}
    window = 9 if date >= LONGER_WINDOW_FROM else 7
    required = _oldest_latest_year(date, window)
    latest = max(full) if full else None
    stale = latest is None or latest < required
    latest = required if stale else latest  # an expired latest year is a year the case does not state
    ends = [end for end in ends if end < date]
    usable = None if stale or not ends else date <= _add_months(max(ends), window)

    def year(k: int, name: str):
        period = full.get(latest - k + 1) if latest is not None else None
        return period[name] if period is not None and period["audited"] else None

    def profit(k: int):
        a, b = year(k, "net_profit_parent"), year(k, "net_profit_parent_deducted")
        return None if a is None or b is None else min(a, b)

    total = before + new
    capital = total * par
    if stage == "filing":
        cap = _amount(offering.get("expected_market_cap"), MONEY_UNITS, money)
    else:
        low = _section(offering.get("price_range"), "price_range").get("low")
        price = _amount(offering.get("issue_price", low), PRICE_UNITS, price_unit)
        cap = None if price is None else price * total
    revenue = year(1, "revenue")
    rd = [year(k, "rd_investment") for k in (1, 2, 3)]
    rev3 = [year(k, "revenue") for k in (1, 2, 3)]
    ocf = [year(k, "operating_cash_flow") for k in (1, 2, 3)]
    p1, p2 = profit(1), profit(2)
    rd_ratio = None if None in rd + rev3 or not sum(rev3) else sum(rd) / sum(rev3) >= Decimal("0.15")
    red, wvr = issuer.get("red_chip", False), issuer.get("weighted_voting_rights", False)
    standards = {
        "2.1.2(1)": both(ge(cap, 10 * YI), either(both(gt(p1, 0), gt(p2, 0),
                                                       None if None in (p1, p2) else p1 + p2 >= 5000 * WAN),
                                                  both(gt(p1, 0), ge(revenue, YI)))),
        "2.1.2(2)": both(ge(cap, 15 * YI), ge(revenue, 2 * YI), rd_ratio),
        "2.1.2(3)": both(ge(cap, 20 * YI), ge(revenue, 3 * YI), None if None in ocf else sum(ocf) >= YI),
        "2.1.2(4)": both(ge(cap, 30 * YI), ge(revenue, 3 * YI)),
        "2.1.2(5)": both(ge(cap, 40 * YI), attest.get("major_business_approved"), attest.get("large_market_space"),
                         attest.get("staged_results_achieved"),
                         None if issuer.get("pharmaceutical") is None else
                         attest.get("core_product_phase2_approved") if issuer["pharmaceutical"]
                         else attest.get("clear_technological_advantage")),
        "2.1.3(1)": both(attest.get("red_chip_innovation_profile"), ge(cap, 100 * YI)),
        "2.1.3(2)": both(attest.get("red_chip_innovation_profile"), ge(cap, 50 * YI), ge(revenue, 5 * YI)),
        "2.1.4(1)": ge(cap, 100 * YI),
        "2.1.4(2)": both(ge(cap, 50 * YI), ge(revenue, 5 * YI)),
    }
    applies = {s: (not red and not wvr) if s.startswith("2.1.2") else
               (red and not issuer.get("listed_abroad", False)) if s.startswith("2.1.3") else wvr for s in standards}
    chosen_text = case.get("chosen_standard")
    chosen = None
    if chosen_text is not None:
        match = STANDARD.match(str(chosen_text))
        if not match or f"{match.group(1)}({NUMERALS.get(match.group(2), match.group(2))})" not in standards:
            raise Bad(chosen_text)
        label = f"{match.group(1)}({NUMERALS.get(match.group(2), match.group(2))})"
        chosen = standards[label] if applies[label] else False
    float_ratio = (new + existing) / total
    float_ok = float_ratio >= (Decimal("0.1") if capital > 4 * YI else Decimal("0.25"))
    checks = [attest.get("issuance_conditions_met"), capital >= 3000 * WAN, float_ok, chosen,
              attest.get("other_listing_conditions_met"), usable]
    if stage != "filing":
        checks.append(chosen)  # abort.market-cap: the chosen standard at the issue price
    if stage == "subscription":
        offline = _amount(subscription.get("offline_subscribed_shares"), SHARE_UNITS, shares)
        initial = _amount(placement.get("offline_initial_shares"), SHARE_UNITS, shares)
        checks += [None if None in (offline, initial) else offline >= initial,
                   subscription.get("sponsor_coinvestment_done")]
    if False in checks:
        return "not_eligible"
    return "undetermined" if None in checks else "eligible"


def _floor_file(path: str) -> tuple[str, str, str]:
    digest, verdict = floor_verdict(Path(path).read_bytes())
    return str(path), digest, verdict


def run_floor(files: list[str], out: Path, jobs: int = 1) -> list[str]:
    """The floor end to end: files → one SQLite row each (file, sha256, verdict), in `jobs` processes."""
    verdicts = []
    db = sqlite3.connect(out)
    db.execute("CREATE TABLE cases (file TEXT, sha256 TEXT, verdict TEXT, PRIMARY KEY (file, sha256))")
    if jobs <= 1:
        rows = map(_floor_file, files)
    else:
        pool = multiprocessing.get_context("fork").Pool(jobs)
        rows = pool.imap(_floor_file, files, chunksize=16)
    for row in rows:
        db.execute("INSERT INTO cases VALUES (?, ?, ?)", row)
        verdicts.append(row[2])
    if jobs > 1:
        pool.close()
        pool.join()
    db.commit()
    db.close()
    return verdicts


# ---------------------------------------------------------------------------------


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - start, value


def engine_run(files: list[str], out: Path, jobs: int) -> None:
    with ResultStore(out) as store:
        run_batch(files, store, jobs=jobs)


def _engine_child(files: list[str], out: Path, jobs: int, queue) -> None:
    seconds, _ = timed(engine_run, files, out, jobs)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    queue.put((seconds, max(own, workers)))


def engine_in_child(files: list[str], out: Path, jobs: int) -> tuple[float, float]:
    """(seconds, peak MB of its largest process) of one engine batch, in a fresh interpreter that
    holds what `check-listing batch` would (ru_maxrss only grows within a process, and a forked
    child would count the pages this process kept from writing the cases and running the floor)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_engine_child, args=(files, out, jobs, queue))
    child.start()
    seconds, peak = queue.get()
    child.join()
    return seconds, peak


def cold_start(args: list[str], runs: int = 10, cache: str | None = None) -> tuple[float, float, float]:
    """(first, min, median) wall milliseconds of a fresh `check-listing ARGS` process, the engine's
    bytecode compiled first as `pip install` does (an editable checkout under PYTHONDONTWRITEBYTECODE
    would otherwise compile every engine module from source in every run). `cache` is the compiled
    rules' cache (STAR_LISTING_CACHE): a new, empty directory, so the first run compiles the rules and
    the others read them; "off" compiles them in every run."""
    import compileall

    compileall.compile_dir(Path(__file__).resolve().parent.parent / "engine", quiet=1)
    script = Path(sys.executable).parent / "check-listing"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "engine.frontends.cli"]
    env = dict(os.environ, **({"STAR_LISTING_CACHE": cache} if cache else {}))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(command + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       cwd=Path(__file__).resolve().parent.parent, check=False, env=env)
        times.append((time.perf_counter() - start) * 1000)
    first, times = times[0], sorted(times[1:])
    return first, times[0], (times[runs // 2 - 1] + times[runs // 2]) / 2


# What any check must do before it reads a case: start the interpreter, import the four libraries it
# is built on (click's CLI, PyYAML's libyaml composer, pydantic with one model validated, which loads
# the schema builder and the plugin scan, and durable_rules' C engine).
DEPENDENCIES = ("import click, yaml, durable_rules_engine\n"
                "from pydantic import BaseModel\n"
                "class M(BaseModel):\n    x: int\n"
                "M.model_validate({'x': 1})\n"
                "yaml.compose('a: 1', Loader=yaml.CSafeLoader)\n")


def interpreter_start(runs: int = 10, code: str = "pass") -> float:
    """Min wall milliseconds of `python -c CODE`: by default how fast this machine is right now."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=False)
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def sheet_run(count: int, work: Path, jobs: list[int], seed: int, repeat: int) -> None:
    """The same valid cases as N YAML files and as one N-row workbook: cases/s of each end to end
    (the workbook's time includes reading it), rounds alternating, medians and the median of the
    same-round ratios; then the time to write the `--out results.xlsx` store for the N rows."""
    from engine.common.errors import InputError
    from engine.frontends.batch import expand_sheets, run_rows
    from engine.input.caseload import load_case
    from engine.input.sheetrows import read_sheet
    from engine.input.sheetwrite import cases_to_sheet
    from engine.rules.ruleloader import load_rulebook
    from engine.rules.sheetrules import vocabulary

    files, cases = [], []
    for path in generate(count, work / f"sheet-cases-{count}", seed=seed):
        try:
            cases.append(load_case(path).case)
            files.append(str(path))
        except InputError:
            continue  # a deliberately bad case file: a sheet holds only valid cases
    book = work / f"issuers-{count}.xlsx"
    write_seconds, _ = timed(cases_to_sheet, cases, book, vocabulary(load_rulebook()))
    read_seconds, rows = timed(read_sheet, book)
    print(f"{len(cases):,} valid cases; workbook {book.stat().st_size / 1e6:.1f} MB written in {write_seconds:.1f} s, "
          f"read in {read_seconds:.2f} s ({len(rows) / read_seconds:,.0f} rows/s)")
    print(f"{'jobs':>6}{'YAML files c/s':>16}{'workbook c/s':>14}{'ratio':>7}   (medians of {repeat}; "
          "ratio = workbook / YAML in the same round)")
    for j in jobs:
        yaml_rates, sheet_rates, ratios = [], [], []
        for _ in range(repeat):  # alternating, so a busy spell on the machine hits both
            yaml_seconds, _ = timed(engine_run, files, work / f"yaml-{j}.jsonl", j)
            sheet_seconds, _ = timed(lambda: engine_run(expand_sheets([book]), work / f"sheet-{j}.jsonl", j))
            yaml_rates.append(len(files) / yaml_seconds)
            sheet_rates.append(len(rows) / sheet_seconds)
            ratios.append(sheet_rates[-1] / yaml_rates[-1])
        print(f"{j:>6}{statistics.median(yaml_rates):>16,.0f}{statistics.median(sheet_rates):>14,.0f}"
              f"{statistics.median(ratios):>7.2f}", flush=True)
        verdicts = [[r["verdict"] for r in read_rows(work / f"{kind}-{j}.jsonl")] for kind in ("yaml", "sheet")]
        assert verdicts[0] == verdicts[1], "the workbook and the case files disagree"
    results = list(run_rows(rows, jobs=jobs[-1], detail=True))  # rule rows with citations and margins
    for suffix in ("xlsx", "jsonl"):
        def store_all() -> None:
            with ResultStore(work / f"results.{suffix}") as store:
                for row in results:
                    store.add(row)
        seconds, _ = timed(store_all)
        print(f"--out results.{suffix}: {len(results):,} rows stored in {seconds:.1f} s "
              f"({(work / f'results.{suffix}').stat().st_size / 1e6:.1f} MB)", flush=True)


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
    parser.add_argument("--repeat", type=int, default=3,
                        help="engine and floor run alternately this many times; medians are printed")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold-start timings")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N cases in one process and stop")
    parser.add_argument("--sheets", action="store_true", help="compare an N-row workbook with N case files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="star-bench-"))
    SCHEMA.update(floor_schema())
    try:
        if args.sheets:
            print(f"machine: {machine()}")
            for count in (int(c) for c in args.counts.split(",")):
                sheet_run(count, work, [int(j) for j in args.jobs.split(",")], args.seed, args.repeat)
            return 0
        if args.profile:
            files = generate(args.profile, work / "cases", seed=args.seed)
            profile = cProfile.Profile()
            profile.enable()
            engine_run(files, work / "p.sqlite", 1)
            profile.disable()
            pstats.Stats(profile).sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(30)
            return 0
        print(f"machine: {machine()}")
        if not args.no_cold_start:
            check = ["cases/qingcloud-filing.yaml"]
            for label, command, cache in (
                    ("check-listing cases/qingcloud-filing.yaml", check, str(work / "rule-cache")),
                    ("  the same, STAR_LISTING_CACHE=off", check, "off"),
                    ("check-listing --version", ["--version"], None)):
                first, low, median = cold_start(command, cache=cache)
                after = f"; first run {first:5.0f} ms (rules compiled and cached)" if cache not in (None, "off") else ""
                print(f"cold start: {label:<42} min {low:5.0f} ms, median {median:5.0f} ms (10 runs){after}")
            print(f"cold start: {'python -c pass (this machine, now)':<42} min {interpreter_start():5.0f} ms")
            print(f"cold start: {'python importing click, yaml, pydantic, durable':<42} "
                  f"min {interpreter_start(code=DEPENDENCIES):5.0f} ms (a check's floor: its libraries alone)")
        jobs = [int(j) for j in args.jobs.split(",")]
        header = f"{'cases':>8}" + "".join(f"{f'engine {j}p':>11}{f'floor {j}p':>10}{f'ratio {j}p':>9}" for j in jobs)
        print(header + f"{'peak MB':>9}{'paths MB':>10}   (cases/s, medians of {args.repeat}; ratio = engine / floor in "
                       "the same round; peak = largest engine process; paths = the path list it holds, N × ~110 B)")
        for count in (int(c) for c in args.counts.split(",")):
            files = [str(f) for f in generate(count, work / f"cases-{count}", seed=args.seed)]  # as the CLI holds them
            line, peaks, floor = f"{count:>8,}", [], []
            for j in jobs:
                rates, floor_rates, ratios = [], [], []
                for _ in range(args.repeat):  # alternating, so a busy spell on the machine hits both
                    seconds, peak = engine_in_child(files, work / f"engine-{count}-{j}.sqlite", j)
                    floor_seconds, floor = timed(run_floor, files, work / f"floor-{count}-{j}.sqlite", j)
                    (work / f"floor-{count}-{j}.sqlite").unlink()
                    rates.append(count / seconds)
                    floor_rates.append(count / floor_seconds)
                    ratios.append(rates[-1] / floor_rates[-1])
                    peaks.append(peak)
                line += f"{statistics.median(rates):>11,.0f}{statistics.median(floor_rates):>10,.0f}" \
                        f"{statistics.median(ratios):>9.2f}"
            held = (sys.getsizeof(files) + sum(sys.getsizeof(f) for f in files)) / 2**20
            print(line + f"{max(peaks):>9.0f}{held:>10.1f}", flush=True)
            stored = list(read_rows(work / f"engine-{count}-{jobs[-1]}.sqlite"))
            assert [r["file"] for r in stored] == [str(f) for f in files]
            engine = [r["verdict"] for r in stored]  # the overall verdict: eligibility and abort parts
            differ = [(f, a, b) for f, a, b in zip(files, engine, floor) if a != b]
            bad = sum(v == "error" for v in engine)
            print(f"{'':>8} floor and engine agree on {count - len(differ):,}/{count:,} verdicts "
                  f"({bad:,} deliberately bad files among them)")
            for f, a, b in differ[:5]:
                print(f"{'':>10}{Path(f).name}: engine {a}, floor {b}")
            shutil.rmtree(work / f"cases-{count}")
            for stale in work.glob(f"*-{count}-*.sqlite"):
                stale.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
