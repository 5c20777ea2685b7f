"""Hostile paths and text (issue 12): each numbered finding of the bad-input run, reproduced.

Commands that could hang or grow without bound run as a user runs them, in a subprocess, bounded
by the harness (a timeout, and an address-space limit set with `resource` before the command
starts), never by a timed assertion: a regression fails as a timeout or a MemoryError, not as a
slow test. Interrupt tests wait for a sign of progress (the batch's partial file exists) before
sending the signal, with bounded waits.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from conftest import CASES, REPO, case_yaml
from engine.frontends.batch import MAX_JOBS, effective_jobs
from engine.frontends.cli import main
from engine.common.errors import EXIT_BATCH_ERRORS, EXIT_INPUT_ERROR, EXIT_NOT_ELIGIBLE, EXIT_WORKER_LOST
from engine.common.sanitize import MAX_CELL_CHARS, escape
from engine.output.store import read_rows

MEMORY_LIMIT = 1 << 30  # 1 GiB of address space: a run reading /dev/zero exceeds it in seconds
TIMEOUT = 120  # seconds; a hang fails as subprocess.TimeoutExpired


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cli(*args, cwd: Path = REPO, stdout=subprocess.PIPE, **options) -> subprocess.CompletedProcess:
    """`check-listing ARGS` in a subprocess, bounded in time and memory."""
    return subprocess.run([sys.executable, "-m", "engine.frontends.cli", *map(str, args)], cwd=cwd, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=TIMEOUT, preexec_fn=_bounded,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, **options)


def assert_one_clean_error(result: subprocess.CompletedProcess, *fragments: str, code: int = EXIT_INPUT_ERROR):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def write_case(folder: Path, name: str = "case.yaml", **overrides) -> Path:
    path = folder / name
    path.write_text(case_yaml(**overrides), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------
# 1. Only regular files are read, and bounded


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_not_read(device):
    assert_one_clean_error(cli(device), device, "character device", "only regular files")


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "case.yaml"
    os.mkfifo(fifo)
    assert_one_clean_error(cli(fifo), "FIFO")


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "case.yaml"
    link.symlink_to("/dev/zero")
    assert_one_clean_error(cli(link), "character device")


def test_a_large_regular_file_is_still_refused_by_size(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (2 * 1024 * 1024 + 1))
    result = CliRunner().invoke(main, [str(path)])
    assert result.exit_code == EXIT_INPUT_ERROR and "larger than 2048 KiB" in result.stderr


# ---------------------------------------------------------------------------------
# 2. Output only to a regular file or a new path; never over an input; stdout failures are errors


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_report_output_to_a_device_fifo_or_directory_is_refused(tmp_path, kind):
    case = write_case(tmp_path)
    if kind == "device":
        # through a link of our own: code that replaces what it writes to replaces the link, never
        # the machine's device node (an unfixed engine run as root once replaced /dev/full)
        target = tmp_path / "report.txt"
        target.symlink_to("/dev/full")
    elif kind == "fifo":
        target = tmp_path / "report.txt"
        os.mkfifo(target)
    else:
        target = tmp_path / "reports"
        target.mkdir()
    before = os.lstat(target)
    result = CliRunner().invoke(main, [str(case), "-o", str(target)])
    assert result.exit_code == EXIT_INPUT_ERROR, result.output
    assert {"device": "character device", "fifo": "FIFO", "directory": "is a directory"}[kind] in result.stderr
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), "the node was replaced"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_report_output_over_its_own_case_is_refused(tmp_path):
    case = write_case(tmp_path)
    original = case.read_bytes()
    result = CliRunner().invoke(main, [str(case), "-o", str(case)])
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "would overwrite the input" in result.stderr
    assert case.read_bytes() == original


def test_report_output_through_a_symlink_keeps_the_link(tmp_path):
    case = write_case(tmp_path)
    real = tmp_path / "real.txt"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert CliRunner().invoke(main, [str(case), "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and "Verdict: ELIGIBLE" in real.read_text(encoding="utf-8")


def test_batch_output_over_an_input_is_refused(tmp_path):
    case = write_case(tmp_path)
    stored = tmp_path / "x.jsonl"
    stored.write_text('{"keep": "me"}\n', encoding="utf-8")
    link = tmp_path / "out.jsonl"
    link.symlink_to(case)  # an output that is, through a link, the case itself
    for args in (["batch", case, "--out", link], ["batch", stored, "--out", stored]):  # the x.jsonl
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == EXIT_INPUT_ERROR, result.output
    assert "would overwrite the input" in CliRunner().invoke(main, ["batch", str(case), "--out", str(link)]).stderr
    assert stored.read_text(encoding="utf-8") == '{"keep": "me"}\n'
    assert case.read_text(encoding="utf-8") == case_yaml()


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_batch_output_to_a_fifo_or_directory_is_refused(tmp_path, kind):
    case = write_case(tmp_path)
    target = tmp_path / "r.csv"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    result = CliRunner().invoke(main, ["batch", str(case), "--out", str(target)])
    assert result.exit_code == EXIT_INPUT_ERROR and ("FIFO" if kind == "fifo" else "directory") in result.stderr
    assert not list(tmp_path.glob(".*partial"))


def test_a_full_standard_output_is_an_error_not_a_lost_report(tmp_path):
    case = write_case(tmp_path)
    with open("/dev/full", "w") as full:
        result = cli(case, stdout=full)
    assert_one_clean_error(result, "cannot write the report to standard output", "No space left")


# ---------------------------------------------------------------------------------
# 3. Echoed text cannot forge a line, ring a bell or reverse text


FORGED = "测试\nVerdict: ELIGIBLE   (exit code 0)\x07\x00\u202eLIGIBLE"


def not_eligible_case(tmp_path: Path) -> Path:
    return write_case(tmp_path, issuer={"name": FORGED},
                      offering={"new_shares": "2000万股"},  # float 21% < 25%: not eligible
                      attestations={"issuance_conditions_met": {"attested_by": "sponsor\nVerdict: ELIGIBLE"}})


def test_text_report_cannot_be_forged_by_echoed_text(tmp_path):
    result = CliRunner().invoke(main, [str(not_eligible_case(tmp_path))])
    assert result.exit_code == EXIT_NOT_ELIGIBLE
    lines = result.stdout.splitlines()
    assert lines[1].startswith("Verdict: NOT ELIGIBLE")
    assert not any(line.startswith("Verdict: ELIGIBLE") for line in lines)
    assert not any(ch in result.stdout for ch in "\x07\x00\u202e")
    assert "测试\\nVerdict: ELIGIBLE   (exit code 0)\\x07\\x00\\u202eLIGIBLE" in lines[0]
    assert "attested by sponsor\\nVerdict: ELIGIBLE" in result.stdout


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_markdown_and_html_reports_escape_echoed_text(tmp_path, fmt):
    result = CliRunner().invoke(main, [str(not_eligible_case(tmp_path)), "--format", fmt])
    assert result.exit_code == EXIT_NOT_ELIGIBLE
    assert not any(ch in result.stdout for ch in "\x07\x00\u202e")
    assert not any(line.startswith("Verdict: ELIGIBLE") for line in result.stdout.splitlines())
    assert "测试\\nVerdict: ELIGIBLE" in result.stdout


def test_error_messages_escape_echoed_keys():
    path = REPO / "tests" / "bad_input" / "control_characters_in_key.yaml"
    result = CliRunner().invoke(main, [str(path)])
    assert result.exit_code == EXIT_INPUT_ERROR
    assert all(line.startswith("error: ") for line in result.stderr.splitlines())
    assert "evil\\n\\x07error: forged\\x00" in result.stderr


def test_csv_cells_escape_echoed_text_and_resume_still_matches(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    write_case(folder, "a.yaml", issuer={"name": FORGED})
    (folder / "b\u202eb.yaml").write_text("issuer: [\n", encoding="utf-8")  # a bidi override in a file name
    out = tmp_path / "r.csv"
    assert CliRunner().invoke(main, ["batch", str(folder), "--out", str(out), "-j", "1"]).exit_code == 4
    text = out.read_text(encoding="utf-8")
    assert "\u202e" not in text and "\x07" not in text
    assert "b\\u202eb.yaml" in text
    again = CliRunner().invoke(main, ["batch", str(folder), "--out", str(out), "-j", "1", "--resume"])
    assert "0 evaluated, 2 kept from before" in again.stdout, again.stdout


def test_a_path_that_matches_nothing_is_echoed_escaped():
    result = CliRunner().invoke(main, ["batch", "no-such\nerror: forged.yaml"])
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "no-such\\nerror: forged.yaml" in result.stderr
    assert not any(line.startswith("error: forged") for line in result.stderr.splitlines())


def test_escape_is_idempotent_and_leaves_ordinary_text_alone():
    assert escape("北京青云科技股份有限公司 (qingcloud-filing) ≥ 25% ✓") == "北京青云科技股份有限公司 (qingcloud-filing) ≥ 25% ✓"
    once = escape(FORGED)
    assert escape(once) == once and "\n" not in once


# ---------------------------------------------------------------------------------
# 4. Problems per file and the length of a message are capped; so is a batch error cell


def test_many_unknown_keys_are_capped_in_messages_time_and_memory(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(case_yaml() + "".join(f"k{i:06d}: 1\n" for i in range(190_000)), encoding="utf-8")
    assert path.stat().st_size < 2 * 1024 * 1024
    result = cli(path)
    assert_one_clean_error(result, "a mapping of 190007 keys (at most 1000 are read)")


def test_sixty_problems_list_fifty_then_say_how_many_more():
    path = REPO / "tests" / "bad_input" / "sixty_unknown_fields.yaml"
    result = CliRunner().invoke(main, [str(path)])
    lines = result.stderr.splitlines()
    assert len(lines) == 51 and lines[-1].endswith("and 10 more problems (only the first 50 are listed)")


def test_a_batch_error_cell_is_capped_and_csv_can_read_it(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(REPO / "tests" / "bad_input" / "sixty_unknown_fields.yaml", folder / "bad.yaml")
    out = tmp_path / "r.csv"
    CliRunner().invoke(main, ["batch", str(folder), "--out", str(out), "-j", "1"])
    with out.open(encoding="utf-8", newline="") as stream:
        [row] = list(csv.DictReader(stream))
    assert MAX_CELL_CHARS < len(row["error"]) < MAX_CELL_CHARS + 100
    assert row["error"].endswith("more characters)")


# ---------------------------------------------------------------------------------
# 5. Resume: the summary and exit code describe the whole output; rows in a fresh run's order


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("qingcloud-filing", "red-chip", "float-below-25"):
        shutil.copy(CASES / f"{name}.yaml", folder / f"{name}.yaml")
    (folder / "bad.yaml").write_text("issuer: [\n", encoding="utf-8")
    return folder


def batch(*args):
    return CliRunner().invoke(main, ["batch", *map(str, args)])


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "sqlite"])
def test_resume_with_nothing_new_exits_as_the_fresh_run_did(mixed_folder, tmp_path, suffix):
    out = tmp_path / f"r.{suffix}"
    fresh = batch(mixed_folder, "--out", out, "-j", "1")
    assert fresh.exit_code == EXIT_BATCH_ERRORS
    resumed = batch(mixed_folder, "--out", out, "-j", "1", "--resume")
    assert resumed.exit_code == EXIT_BATCH_ERRORS, resumed.output
    assert "4 cases: 0 evaluated, 4 kept from before" in resumed.stdout
    assert "error" in resumed.stdout and "eligible" in resumed.stdout  # the verdict table counts kept rows


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "sqlite"])
def test_a_resumed_output_is_the_fresh_one(mixed_folder, tmp_path, suffix):
    resumed, fresh = tmp_path / f"resumed.{suffix}", tmp_path / f"fresh.{suffix}"
    assert batch(mixed_folder, "--out", resumed, "-j", "1").exit_code == EXIT_BATCH_ERRORS
    (mixed_folder / "aa-first.yaml").write_text(case_yaml(case_id="aa"), encoding="utf-8")  # sorts first
    changed = mixed_folder / "red-chip.yaml"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n# touched\n", encoding="utf-8")
    assert batch(mixed_folder, "--out", resumed, "-j", "1", "--resume").exit_code == EXIT_BATCH_ERRORS
    assert batch(mixed_folder, "--out", fresh, "-j", "1").exit_code == EXIT_BATCH_ERRORS
    if suffix == "sqlite":
        assert list(read_rows(resumed)) == list(read_rows(fresh))
        from engine.output.store import read_rule_rows

        assert read_rule_rows(resumed) == read_rule_rows(fresh)
    else:
        assert resumed.read_bytes() == fresh.read_bytes()


# ---------------------------------------------------------------------------------
# 6. Interrupts: 130 / 143, one line, no traceback, workers stopped, no partial file left


@pytest.fixture(scope="module")
def many_cases(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("many")
    assert CliRunner().invoke(main, ["generate", "400", str(folder), "--seed", "3"]).exit_code == 0
    return folder


def start_batch(cases: Path, out: Path, ignore_sigint: bool = False) -> subprocess.Popen:
    def setup():
        _bounded()
        os.setsid()  # its own process group, as a shell job has
        if ignore_sigint:  # as a shell script's background job starts: SIGINT ignored
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen([sys.executable, "-m", "engine.frontends.cli", "batch", str(cases), "--out", str(out), "-j", "2"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=setup, env={**os.environ, "PYTHONPATH": str(REPO)})


def wait_for_partial(out: Path, process: subprocess.Popen) -> None:
    for _ in range(600):  # at most 60 s
        if any(out.parent.glob(f".{out.name}.*.partial")) or process.poll() is not None:
            break
        time.sleep(0.1)
    assert process.poll() is None, "the batch ended before it could be interrupted"
    assert any(out.parent.glob(f".{out.name}.*.partial"))


def stop_batch(cases: Path, out: Path, stop, ignore_sigint: bool = False) -> tuple[subprocess.Popen, list[int], str]:
    """Start a batch, call `stop(its pid, its workers' pids)` once it writes with its workers
    started, and wait for its end."""
    process = start_batch(cases, out, ignore_sigint)
    try:
        wait_for_partial(out, process)
        for _ in range(600):  # at most 60 s
            workers = children_of(process.pid)
            if len(workers) == 2 or process.poll() is not None:
                break
            time.sleep(0.1)
        assert len(workers) == 2 and process.poll() is None, "the batch ended before its workers were seen"
        stop(process.pid, workers)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process, workers, stderr


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


@pytest.mark.parametrize("signum, code, to_group, ignore_sigint", [
    (signal.SIGINT, 130, True, False),  # Ctrl-C on a terminal: the whole process group
    (signal.SIGTERM, 143, False, False),  # kill PID
    (signal.SIGTERM, 143, True, False),  # kill -TERM -PGID
    (signal.SIGINT, 130, False, True),  # started in the background from a script
], ids=["sigint-group", "sigterm", "sigterm-group", "sigint-background-job"])
def test_an_interrupted_batch_exits_cleanly(many_cases, tmp_path, signum, code, to_group, ignore_sigint):
    out = tmp_path / "r.jsonl"
    process, workers, stderr = stop_batch(many_cases, out, lambda batch, _: (os.killpg if to_group else os.kill)(batch, signum),
                                          ignore_sigint)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and len(stderr.splitlines()) == 1, stderr
    assert "interrupted by" in stderr
    assert not list(tmp_path.glob(".*partial")) and not out.exists()
    for worker in workers:  # stopped, not left running
        assert not Path(f"/proc/{worker}").exists() or "zombie" in Path(f"/proc/{worker}/status").read_text().lower()


def test_pydantic_validators_are_built_with_interrupts_held(monkeypatch):
    """Seen in a stress run: a SIGTERM that landed while pydantic-core built the case validator came
    out as a `SchemaError` and a traceback (exit 1), not as a clean stop. The build holds them now."""
    import engine.common.interrupts as interrupts
    from engine.common.interrupts import HeldBuild, build_validator
    from engine.input.case import Case
    from engine.input.caseload import load_case_text
    from engine.rules import rulefiles

    masks = []

    class Deferred:
        __pydantic_complete__ = False

        @classmethod
        def model_rebuild(cls):
            masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
            cls.__pydantic_complete__ = True

    build_validator(Deferred)
    build_validator(Deferred)  # built: not again
    assert len(masks) == 1 and {signal.SIGINT, signal.SIGTERM} <= masks[0]
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # let in again afterwards

    built = []  # every validation of a deferred model goes through it (a no-op once built)
    monkeypatch.setattr(interrupts, "build_validator", lambda model: built.append(model) or build_validator(model))
    load_case_text(case_yaml())
    assert Case in built

    def models(base):
        for model in base.__subclasses__():
            yield model
            yield from models(model)

    deferred = [m for m in models(BaseModel) if m.__module__.startswith("engine.") and m.model_config.get("defer_build")]
    assert Case in deferred and rulefiles.RuleFile in deferred
    assert [m.__name__ for m in deferred if not issubclass(m, HeldBuild)] == []


def test_a_batch_whose_worker_is_killed_stops_with_its_own_exit_code(many_cases, tmp_path):
    """A worker killed alone (the out-of-memory killer): the batch says which and on what case,
    exits 71 and leaves no partial file, rather than waiting for rows that will never come."""
    out = tmp_path / "r.jsonl"
    process, workers, stderr = stop_batch(many_cases, out, lambda _, workers: os.kill(workers[0], signal.SIGKILL))
    assert process.returncode == EXIT_WORKER_LOST, stderr
    assert "Traceback" not in stderr and len(stderr.splitlines()) == 1, stderr
    assert f"worker process {workers[0]} stopped (killed by SIGKILL) while evaluating {many_cases}" in stderr
    assert not list(tmp_path.glob(".*partial")) and not out.exists()


def test_the_partial_file_of_a_batch_killed_outright_is_removed_by_the_next_run(many_cases, tmp_path):
    out = tmp_path / "r.jsonl"
    process = start_batch(many_cases, out)
    try:
        wait_for_partial(out, process)
        [partial] = tmp_path.glob(".r.jsonl.*.partial")
        os.killpg(process.pid, signal.SIGKILL)  # no handler runs: the partial file stays behind
        process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert partial.exists()
    result = batch(next(many_cases.glob("*.yaml")), "--out", out)
    assert result.exit_code in (0, EXIT_BATCH_ERRORS), result.output
    assert not partial.exists() and f"removed {partial}" in result.stderr


def test_a_partial_file_of_a_killed_run_is_removed_by_the_next(tmp_path):
    case = write_case(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f".r.jsonl.{dead.stdout.strip()}.abc123.partial"
    stale.write_text("half a batch", encoding="utf-8")
    live = tmp_path / f".r.jsonl.{os.getpid()}.def456.partial"  # a run still going: left alone
    live.write_text("being written", encoding="utf-8")
    result = batch(case, "--out", tmp_path / "r.jsonl")
    assert result.exit_code == 0
    assert not stale.exists() and live.exists()
    assert f"removed {stale}, left by an earlier run that was killed" in result.stderr


# ---------------------------------------------------------------------------------
# 7. A folder's odd entries are error rows; --jobs is capped


def test_odd_entries_in_a_folder_are_error_rows(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(CASES / "red-chip.yaml", folder / "good.yaml")
    os.mkfifo(folder / "fifo.yaml")
    (folder / "dir.yaml").mkdir()
    (folder / "loop.yaml").symlink_to("loop.yaml")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    out = tmp_path / "r.jsonl"
    result = cli("batch", folder, "--out", out, "--jobs", "1000")
    assert result.returncode == EXIT_BATCH_ERRORS, result.stderr
    rows = {Path(r["file"]).name: r for r in read_rows(out)}
    assert rows["good.yaml"]["verdict"] == "eligible"
    expected = {"fifo.yaml": "FIFO", "dir.yaml": "directory", "loop.yaml": "symbolic links",
                "zero.yaml": "character device"}
    for name, fragment in expected.items():
        assert rows[name]["verdict"] == "error" and fragment in rows[name]["error"], rows[name]
    assert "(5 worker processes)" in result.stdout  # --jobs 1000, capped at the 5 files


def test_jobs_are_capped_at_the_files_and_a_sane_maximum():
    cores = os.cpu_count() or 1
    assert effective_jobs(1000, 3) == 3
    assert effective_jobs(1000, 100_000) == min(4 * cores, MAX_JOBS)
    assert effective_jobs(None, 100_000) == cores
    assert effective_jobs(2, 0) == 1


# ---------------------------------------------------------------------------------
# 8. Rule authors: the checkout's rules/ is what the authoring commands read


def author_checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(REPO / "pyproject.toml", checkout / "pyproject.toml")
    shutil.copytree(REPO / "rules", checkout / "rules")
    return checkout


def test_rules_test_in_a_checkout_sees_the_authors_edit(tmp_path):
    """An author's copy of the project (here: outside the installed package), a threshold edited,
    `rules test` run in it: the edit is what is tested, and the output says which rules it read."""
    checkout = author_checkout(tmp_path)
    rule_file = checkout / "rules" / "listing-rules" / "2.1.1.yaml"
    text = rule_file.read_text(encoding="utf-8")
    assert "post_issue_share_capital >= 3000万元" in text
    rule_file.write_text(text.replace("post_issue_share_capital >= 3000万元", "post_issue_share_capital > 3000万元"),
                         encoding="utf-8")
    result = cli("rules", "test", cwd=checkout)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"rules: {checkout / 'rules'}" in result.stdout
    assert "FAIL" in result.stdout and "3000万元" in result.stdout
    lint = cli("rules", "lint", cwd=checkout)
    assert str(checkout / "rules") in lint.stdout and "this checkout's rules/" in lint.stderr


def test_readme_case_example_loads(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Case files"):]
    example = section[section.index("```yaml\n") + len("```yaml\n"):section.index("\n```", section.index("```yaml"))]
    path = tmp_path / "readme-example.yaml"
    path.write_text(example + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, [str(path), "--format", "json"])
    assert result.exit_code != EXIT_INPUT_ERROR, result.stderr
    data = json.loads(result.stdout)
    assert data["case"]["id"] == "qingcloud-filing"


# ---------------------------------------------------------------------------------
# 9. durable_rules that does not import (Python 3.13): one message, exit 2


def test_durable_rules_that_cannot_be_imported_is_a_clean_error():
    script = ("import sys; sys.modules['durable_rules_engine'] = None  # as on Python 3.13\n"
              "sys.argv = ['check-listing', 'cases/qingcloud-filing.yaml']\n"
              "from engine.frontends.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                            timeout=TIMEOUT, preexec_fn=_bounded)
    assert_one_clean_error(result, "durable_rules cannot be imported", "Python 3.11 or 3.12")


# ---------------------------------------------------------------------------------
# Every file of tests/bad_input, and the hostile entries no repository can hold, in one bounded batch


def test_every_bad_input_is_an_error_row_in_a_bounded_batch(tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(REPO / "tests" / "bad_input", folder)
    os.mkfifo(folder / "fifo.yaml")
    (folder / "urandom.yaml").symlink_to("/dev/urandom")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    out = tmp_path / "r.jsonl"
    result = cli("batch", folder, "--out", out, "-j", "2")
    assert result.returncode == EXIT_BATCH_ERRORS, result.stderr
    rows = list(read_rows(out))
    assert len(rows) == len(list((REPO / "tests" / "bad_input").glob("*.yaml"))) + 3
    assert all(r["verdict"] == "error" and r["error"] for r in rows), [r["file"] for r in rows if not r["error"]]
