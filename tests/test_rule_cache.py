"""The compiled rulebook is kept between runs under a key of every input it depends on (issue 13):
a hit gives the same rulebook without reading a rule file; any change to a rule file, the engine's
source or the directory is a miss; a bad, foreign or unwritable cache is never an error."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from conftest import CASES
from engine import load_case
from engine.common.errors import RuleFileError
from engine.decide import rulecache
from engine.decide.evaluation import Evaluator
from engine.decide.rulecache import compiled_rules
from engine.input import yamlsource
from engine.output.report import format_json
from engine.rules import ruleloader
from engine.rules.rulesources import bundled_rules_dir, rulebook_files


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("STAR_LISTING_CACHE", str(folder))
    return folder


@pytest.fixture
def rules(tmp_path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), target)
    return target


def _count_reads(monkeypatch) -> list[Path]:
    read: list[Path] = []
    original = yamlsource.load_file

    def counting(path, *args, **kwargs):
        read.append(Path(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(ruleloader, "load_file", counting)
    return read


def _report(compiled, case: str = "qingcloud-filing.yaml") -> str:
    with Evaluator(compiled.rulebook, compiled) as evaluator:
        return format_json(evaluator.evaluate(load_case(CASES / case)))


def test_a_second_load_reads_no_rule_file_and_decides_the_same(cache, rules, monkeypatch):
    read = _count_reads(monkeypatch)
    first = compiled_rules(rules)
    assert read and len(list(cache.glob("*.pickle"))) == 1
    read.clear()
    second = compiled_rules(rules)
    assert read == [] and second is not first
    assert second.rulebook.sha256 == first.rulebook.sha256 and second.definition_json == first.definition_json
    uncached = _report(ruleloader_compile(rules))
    assert _report(second) == _report(first) == uncached


def ruleloader_compile(rules: Path):
    from engine.decide.compiler import compile_rulebook

    return compile_rulebook(ruleloader.load_rulebook(rules))


def test_the_key_names_every_file_the_loader_reads(rules, monkeypatch):
    read = _count_reads(monkeypatch)
    ruleloader.load_rulebook(rules)
    assert set(read) == {p for p in rulebook_files(rules) if p.is_file()}


def test_a_changed_rule_file_is_a_miss_and_its_change_counts(cache, rules, monkeypatch):
    before = compiled_rules(rules)
    article = rules / "listing-rules" / "2.1.2.yaml"
    text = article.read_text(encoding="utf-8")
    assert "market_cap >= 10亿元" in text
    article.write_text(text.replace("market_cap >= 10亿元", "market_cap >= 11亿元"), encoding="utf-8")
    read = _count_reads(monkeypatch)
    after = compiled_rules(rules)
    assert read and after.rulebook.sha256 != before.rulebook.sha256
    assert after.definition_json != before.definition_json and "1100000000" in after.definition_json
    assert len(list(cache.glob("*.pickle"))) == 2


def test_a_new_article_file_is_a_miss(cache, rules, monkeypatch):
    compiled_rules(rules)
    (rules / "listing-rules" / "notes.test.yaml").write_text("tests: []\n", encoding="utf-8")  # not the rulebook
    read = _count_reads(monkeypatch)
    compiled_rules(rules)
    assert read == []
    shutil.copy(rules / "listing-rules" / "2.1.1.yaml", rules / "listing-rules" / "2.1.1-copy.yaml")
    with pytest.raises(RuleFileError):  # the copy repeats rule ids: loaded, hence refused
        compiled_rules(rules)


def test_the_same_files_in_another_directory_are_another_entry(cache, rules, tmp_path):
    compiled_rules(rules)
    other = tmp_path / "other"
    shutil.copytree(rules, other)
    assert compiled_rules(other).rulebook.directory == other
    assert len(list(cache.glob("*.pickle"))) == 2


def test_a_change_to_the_engine_source_is_a_miss(cache, rules, monkeypatch, tmp_path):
    compiled_rules(rules)
    engine = tmp_path / "engine"
    shutil.copytree(rulecache.ENGINE, engine, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(rulecache, "ENGINE", engine)
    read = _count_reads(monkeypatch)
    compiled_rules(rules)
    assert read == []  # a copy of the same source: the same key
    (engine / "decide" / "compiler.py").write_text((engine / "decide" / "compiler.py").read_text() + "\n# edited\n")
    compiled_rules(rules)
    assert read


def test_broken_rules_are_never_cached(cache, rules):
    (rules / "listing-rules" / "2.1.1.yaml").write_text("rules: [\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(RuleFileError):
            compiled_rules(rules)
    assert not list(cache.glob("*.pickle"))


@pytest.mark.parametrize("content", [b"", b"not a pickle", pickle.dumps({"a": 1}), b"\x80\x05truncated"])
def test_an_unreadable_entry_is_rebuilt(cache, rules, content, monkeypatch):
    compiled_rules(rules)
    [entry] = cache.glob("*.pickle")
    entry.write_bytes(content)
    read = _count_reads(monkeypatch)
    assert compiled_rules(rules).rulebook.rules
    assert read and entry.read_bytes() != content


def test_an_entry_others_could_write_is_not_loaded(cache, rules, monkeypatch):
    compiled_rules(rules)
    [entry] = cache.glob("*.pickle")
    entry.chmod(0o666)
    read = _count_reads(monkeypatch)
    compiled_rules(rules)
    assert read  # ignored, rebuilt and replaced by one of our own
    assert not entry.stat().st_mode & 0o022


def test_a_symlinked_entry_is_not_loaded(cache, rules, monkeypatch, tmp_path):
    compiled_rules(rules)
    [entry] = cache.glob("*.pickle")
    elsewhere = tmp_path / "elsewhere.pickle"
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere)
    read = _count_reads(monkeypatch)
    compiled_rules(rules)
    assert read


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path, rules, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("STAR_LISTING_CACHE", str(blocker / "cache"))  # under a file: cannot be made
    assert compiled_rules(rules).rulebook.rules
    assert compiled_rules(rules).rulebook.rules


@pytest.mark.parametrize("setting", ["off", "OFF", "0", ""])
def test_the_cache_can_be_turned_off(setting, rules, monkeypatch, tmp_path):
    monkeypatch.setenv("STAR_LISTING_CACHE", setting)
    monkeypatch.chdir(tmp_path)
    assert rulecache.cache_dir() is None
    read = _count_reads(monkeypatch)
    compiled_rules(rules)
    compiled_rules(rules)
    assert len([p for p in read if p.name == "rulebook.yaml"]) == 2


def test_the_default_place_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("STAR_LISTING_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert rulecache.cache_dir() == tmp_path / "star-listing"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert rulecache.cache_dir() == tmp_path / "home" / ".cache" / "star-listing"


def test_only_the_newest_entries_are_kept(cache, rules):
    for n in range(rulecache.KEEP + 2):
        (rules / "rulebook.yaml").write_text((rules / "rulebook.yaml").read_text(encoding="utf-8") + f"\n# {n}\n",
                                             encoding="utf-8")
        compiled_rules(rules)
    assert len(list(cache.glob("*.pickle"))) == rulecache.KEEP
    assert not list(cache.glob(".*.tmp"))
    assert oct(cache.stat().st_mode & 0o777) == "0o700"


def test_a_stored_rulebook_carries_every_period_packed_and_a_check_packs_none(cache, rules, monkeypatch):
    """The cache stores each period's packed ruleset (`factgroups.pack_periods`): a check on a hit,
    on any date and at any stage, packs nothing, and the stored periods are what packing gives afresh."""
    import datetime as dt

    from engine.decide import factgroups
    from engine.decide.compiler import compile_rulebook

    compiled_rules(rules)
    stored = compiled_rules(rules)  # read back from the entry
    assert stored.periods
    fresh = compile_rulebook(stored.rulebook)
    for key, period in stored.periods.items():
        rules_of = [fresh.rules[(k.rsplit("@", 1)[0], int(k.rsplit("@", 1)[1]))] for k in key]
        again = factgroups.pack_period(fresh, rules_of)
        assert period.definition_json == again.definition_json and period.groups == again.groups, key
    expected = _report(fresh)

    def packing(*args, **kwargs):
        raise AssertionError("a period was packed although the cache stores them all")

    monkeypatch.setattr(factgroups, "pack_period", packing)
    book = stored.rulebook
    days = book.period_starts()
    dates = days + [d - dt.timedelta(days=1) for d in days[1:]] + [days[-1] + dt.timedelta(days=3650)]
    with Evaluator(book, stored) as evaluator:
        for on in dates:
            for stage in book.stages():
                pending = evaluator._plan(on, stage).pending
                if pending:
                    evaluator._ruleset(pending)  # would raise had the period not been stored
    assert _report(stored) == expected
