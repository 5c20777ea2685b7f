"""Safe YAML loading: every refusal is an InputError placed at its line, every value is
mapped to its line and column, and decimals stay exact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from engine.common.errors import InputError, Problem
from engine.input.yamlsource import MAX_DEPTH, MAX_FILE_BYTES, SourceMap, dotted, load_file, load_text


def refusal(text: str, filename: str = "case.yaml") -> list[Problem]:
    with pytest.raises(InputError) as caught:
        load_text(text, filename)
    problems = caught.value.problems
    assert problems, "an InputError must carry at least one problem"
    for problem in problems:
        assert problem.file == filename
    return problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------------------------
# Refusals, each at its line


def test_alias_is_refused_at_the_line_of_the_alias():
    text = "offering:\n  shares_before_issue: &before 7500万股\n  over_allotment_shares: *before\n"
    problem = only(refusal(text))
    assert "aliases are not allowed" in problem.message
    assert problem.line == 3  # where the alias repeats the value, not where the anchor is
    assert problem.field == "offering.over_allotment_shares"


def test_alias_refusal_names_a_line_that_holds_the_anchor_or_alias():
    text = "a: &x 1\nb: 2\nc: *x\n"
    problem = only(refusal(text))
    assert "aliases are not allowed" in problem.message
    assert problem.line in (1, 3)


def test_alias_of_a_mapping_is_refused():
    text = "base: &b\n  x: 1\nother: *b\n"
    problems = refusal(text)
    assert any("aliases" in p.message for p in problems)


def test_merge_key_is_refused_at_its_line():
    text = "base:\n  x: 1\nother:\n  <<: {y: 2}\n  z: 3\n"
    problem = only(refusal(text))
    assert "merge keys" in problem.message
    assert (problem.line, problem.column) == (4, 3)


def test_duplicate_key_is_refused_at_the_second_occurrence():
    text = "offering:\n  new_shares: 2500万股\n  par_value: 1元\n  new_shares: 2400万股\n"
    problem = only(refusal(text))
    assert "duplicate key 'new_shares'" in problem.message
    assert (problem.line, problem.column) == (4, 3)


def test_duplicate_key_names_its_field():
    text = "offering:\n  new_shares: 2500万股\n  new_shares: 2400万股\n"
    problem = only(refusal(text))
    assert problem.field == "offering.new_shares"


def test_duplicate_top_level_key_is_refused():
    problem = only(refusal("a: 1\nb: 2\na: 3\n"))
    assert problem.line == 3


@pytest.mark.parametrize("key_text", ["1.5", "true", "~", "[1, 2]", "{x: 1}", "2020-01-01"])
def test_non_string_keys_are_refused_at_their_line(key_text):
    text = f"a: 1\n? {key_text}\n: 2\n"
    problem = only(refusal(text))
    assert "keys must be plain text" in problem.message
    assert problem.line == 2


def test_whole_number_keys_are_accepted_as_years():
    assert load_text("2019: 1\n2020: 2\n", "f.yaml").data == {2019: 1, 2020: 2}


def test_oversize_text_is_refused():
    text = "a: " + "x" * MAX_FILE_BYTES + "\n"
    problem = only(refusal(text))
    assert "larger than" in problem.message


def test_oversize_file_is_refused_before_it_is_parsed(tmp_path: Path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: [" + b"1," * (MAX_FILE_BYTES // 2) + b"1]\n")
    with pytest.raises(InputError) as caught:
        load_file(path)
    problem = only(caught.value.problems)
    assert "larger than" in problem.message
    assert problem.file == str(path)


def test_multibyte_text_just_under_the_limit_is_accepted():
    # 3 bytes per character in UTF-8: the limit is on bytes, and this is under it
    text = "a: " + "测" * ((MAX_FILE_BYTES - 16) // 3) + "\n"
    assert len(load_text(text, "f.yaml").data["a"]) == (MAX_FILE_BYTES - 16) // 3


def test_multibyte_text_over_the_limit_in_bytes_is_refused():
    text = "a: " + "测" * (MAX_FILE_BYTES // 3 + 10) + "\n"  # fewer characters than the limit, more bytes
    assert len(text) < MAX_FILE_BYTES
    assert "larger than" in only(refusal(text)).message


@pytest.mark.parametrize("open_, close", [("[", "]"), ("{x: ", "}")])
def test_nesting_deeper_than_the_limit_is_refused(open_, close):
    depth = MAX_DEPTH + 5
    text = "a: " + open_ * depth + "1" + close * depth + "\n"
    problem = only(refusal(text))
    assert "nesting" in problem.message
    assert problem.line == 1


def test_block_nesting_deeper_than_the_limit_is_refused_at_its_line():
    depth = MAX_DEPTH + 3
    text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"
    problem = only(refusal(text))
    assert "nesting" in problem.message
    # the first node too deep is the value of the key on line MAX_DEPTH + 1
    assert problem.line is not None and MAX_DEPTH <= problem.line <= MAX_DEPTH + 2


def test_nesting_at_the_limit_is_accepted():
    depth = MAX_DEPTH
    text = "a: " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"
    data = load_text(text, "f.yaml").data
    for _ in range(depth - 1):
        data = data["a"] if isinstance(data, dict) else data[0]
    assert data in (1, [1])


def test_extremely_deep_nesting_is_refused_without_recursion_error():
    text = "a: " + "[" * 50_000 + "]" * 50_000 + "\n"
    problems = refusal(text)
    assert problems[0].line == 1


def test_billion_laughs_is_refused():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghij"):
        previous = "abcdefghij"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    text = "\n".join(lines) + "\n"
    problems = refusal(text)
    *listed, more = problems
    assert all("aliases" in p.message for p in listed)
    # refused node by node, not expanded, and the list capped: the first 50, then how many more
    assert len(listed) == 50 and more.message.startswith("and ") and "more problems" in more.message


def test_malformed_yaml_is_refused_at_the_line_of_the_fault():
    text = "a: 1\nb: 2\nc: d: e\n"
    problem = only(refusal(text))
    assert problem.message.startswith("malformed YAML")
    assert problem.line == 3


def test_tab_indentation_is_malformed():
    problem = only(refusal("a:\n\tb: 1\n"))
    assert "malformed YAML" in problem.message
    assert problem.line == 2


def test_unclosed_quote_is_malformed():
    problem = only(refusal("a: 1\nb: 'open\n"))
    assert "malformed YAML" in problem.message


@pytest.mark.parametrize("text, line", [
    ("a: 1\nb: !!python/object:os.system x\n", 2),
    ("a: !!python/name:os.system\n", 1),
    ("a: !foo x\n", 1),
    ("a: !!binary aGVsbG8=\n", 1),
])
def test_tags_on_scalars_are_refused(text, line):
    problem = only(refusal(text))
    assert "unsupported YAML tag" in problem.message
    assert problem.line == line


@pytest.mark.parametrize("text", [
    "a: !!python/object/apply:os.system ['echo hi']\n",
    "a: !!python/object:collections.OrderedDict {x: 1}\n",
    "a: !custom [1, 2]\n",
])
def test_tags_on_collections_are_refused_like_tags_on_scalars(text):
    problem = only(refusal(text))
    assert "unsupported YAML tag" in problem.message
    assert problem.line == 1


def test_python_object_tag_constructs_nothing(tmp_path: Path):
    marker = tmp_path / "ran"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    try:
        load_text(text, "f.yaml")
    except InputError:
        pass
    assert not marker.exists()


def test_thousands_separator_inside_a_flow_mapping_is_refused_with_a_hint():
    # YAML splits {a: 50,000} into a: 50 and a key 000: the amount would silently shrink
    problems = refusal("offering:\n  x: {par_value: 1元, expected_market_cap: 50,000}\n")
    problem = only(problems)
    assert problem.line == 2
    assert "quote it" in problem.message


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_non_finite_numbers_are_refused(value):
    problem = only(refusal(f"a: 1\nb: {value}\n"))
    assert "not a finite decimal number" in problem.message
    assert problem.line == 2


def test_date_and_time_is_refused_where_dates_are_expected():
    problem = only(refusal("evaluation:\n  date: 2021-06-30 10:00:00\n"))
    assert "not a date and time" in problem.message
    assert problem.line == 2


def test_scalar_problems_name_their_field():
    problem = only(refusal("evaluation:\n  date: 2021-06-30 10:00:00\n"))
    assert problem.field == "evaluation.date"


def test_impossible_calendar_date_is_an_input_error():
    problem = only(refusal("evaluation:\n  date: 2021-13-45\n"))
    assert problem.line == 2


def test_every_problem_is_collected_not_only_the_first():
    text = "a: .nan\nb: !foo x\nc: 1\nc: 2\n"
    problems = refusal(text)
    assert sorted(p.line for p in problems) == [1, 2, 4]


def test_not_utf8_file_is_refused(tmp_path: Path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("name: 测试\n".encode("gbk"))
    with pytest.raises(InputError) as caught:
        load_file(path)
    problem = only(caught.value.problems)
    assert "not UTF-8" in problem.message
    assert problem.file == str(path)


def test_missing_file_is_refused(tmp_path: Path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(InputError) as caught:
        load_file(path)
    problem = only(caught.value.problems)
    assert "cannot read file" in problem.message
    assert problem.file == str(path)


def test_directory_is_refused(tmp_path: Path):
    with pytest.raises(InputError):
        load_file(tmp_path)


# ---------------------------------------------------------------------------------
# Values


def test_decimals_are_kept_exactly_as_written():
    data = load_text("a: 0.1\nb: 37682.20\nc: -0.0001\nd: 1000.5\ne: 3\n", "f.yaml").data
    assert data["a"] == Decimal("0.1") and isinstance(data["a"], Decimal)
    assert data["b"] == Decimal("37682.20") and str(data["b"]) == "37682.20"
    assert data["c"] == Decimal("-0.0001")
    assert data["d"] == Decimal("1000.5")
    assert data["e"] == 3 and isinstance(data["e"], int)
    assert not any(isinstance(v, float) for v in data.values())


def test_long_decimal_keeps_every_digit():
    data = load_text("a: 0.1000000000000000000000000001\n", "f.yaml").data
    assert data["a"] == Decimal("0.1000000000000000000000000001")


def test_scalars_of_other_types():
    data = load_text("s: text\nt: true\nf: false\nn: null\nd: 2021-06-30\nq: '0.1'\n", "f.yaml").data
    assert data == {"s": "text", "t": True, "f": False, "n": None, "d": dt.date(2021, 6, 30), "q": "0.1"}


def test_amount_text_stays_text():
    data = load_text("a: 37,682.20万元\nb: 3.77亿元\n", "f.yaml").data
    assert data == {"a": "37,682.20万元", "b": "3.77亿元"}


def test_empty_document_is_none():
    assert load_text("", "f.yaml").data is None
    assert load_text("# only a comment\n", "f.yaml").data is None


# ---------------------------------------------------------------------------------
# Source map

DOCUMENT = """\
case_id: x
offering:
  par_value: 1.00元
  new_shares: 1200万股
financials:
  - period: 2019
    revenue: 1万元
  - period: 2020
    revenue: 2万元
  -   period: 2021
  - plain
flow: {p: 1, q: [10, 20]}
"""


@pytest.fixture(scope="module")
def source() -> SourceMap:
    return load_text(DOCUMENT, "doc.yaml").source


@pytest.mark.parametrize("path, place", [
    (("case_id",), (1, 1)),
    (("offering",), (2, 1)),
    (("offering", "par_value"), (3, 3)),
    (("offering", "new_shares"), (4, 3)),
    (("financials",), (5, 1)),
    (("financials", 0), (6, 5)),
    (("financials", 0, "period"), (6, 5)),
    (("financials", 0, "revenue"), (7, 5)),
    (("financials", 1), (8, 5)),
    (("financials", 1, "revenue"), (9, 5)),
    (("financials", 2, "period"), (10, 7)),
    (("financials", 3), (11, 5)),
    (("flow", "p"), (12, 8)),
    (("flow", "q"), (12, 14)),
    (("flow", "q", 1), (12, 22)),
])
def test_source_map_places_nested_keys_and_list_items(source, path, place):
    assert source.locate(path) == place


def test_locate_falls_back_to_the_nearest_ancestor(source):
    assert source.locate(("offering", "issue_price")) == (2, 1)
    assert source.locate(("financials", 1, "net_profit_parent")) == (8, 5)
    assert source.locate(("financials", 7)) == (5, 1)


def test_problem_is_placed_with_its_dotted_field(source):
    problem = source.problem(("financials", 1, "revenue"), "bad", expected="money")
    assert (problem.file, problem.line, problem.column) == ("doc.yaml", 9, 5)
    assert problem.field == "financials[1].revenue"
    assert problem.render() == "doc.yaml:9:5: financials[1].revenue: bad (expected money)"


def test_dotted_names():
    assert dotted(("a", "b", 2, "c")) == "a.b[2].c"
    assert dotted((0, "a")) == "[0].a"
    assert dotted(()) == ""


def test_line_numbers_count_comment_lines_and_blank_lines():
    text = "# a comment\n\n# another\noffering:\n\n  new_shares: 1万股\n"
    assert load_text(text, "f.yaml").source.locate(("offering", "new_shares")) == (6, 3)


def test_columns_count_characters_not_bytes():
    text = "名称: 测试\nb: {c: 1, 说明: 2, d: 3}\n"
    source = load_text(text, "f.yaml").source
    assert source.locate(("b", "d")) == (2, 18)


def test_loading_keeps_no_node_alive():
    """The scalar constructor is shared; it must not memoise nodes across files (a batch leak)."""
    from engine.input.yamlsource import _Builder

    for i in range(50):
        load_text(f"count: {i}\nflag: true\nnothing: null\nday: 2021-03-{i % 28 + 1:02d}\n", f"f{i}.yaml")
    assert _Builder._scalar_constructor.constructed_objects == {}


@pytest.mark.parametrize("text", ["0x1F", "1:30", "1_000", "1_000.5", "012", "-0x10", "190:20:30.15"])
def test_yaml_1_1_number_forms_are_refused_at_their_line(text):
    """YAML 1.1 reads 0x1F as 31, 1:30 as 90 (base 60), 1_000 as 1000: not the figure written."""
    with pytest.raises(InputError) as err:
        load_text(f"a: 1\nrevenue: {text}\n", "f.yaml")
    [problem] = err.value.problems
    assert problem.line == 2 and problem.field == "revenue" and "YAML 1.1" in problem.message


def test_plain_numbers_and_year_keys_still_read():
    data = load_text("a: 0\nb: -3\nc: .5\nd: 0.25\nyears: {2019: 1, 2020: 2}\n", "f.yaml").data
    assert data == {"a": 0, "b": -3, "c": Decimal("0.5"), "d": Decimal("0.25"), "years": {2019: 1, 2020: 2}}


def test_remembered_tags_are_the_ones_pyyaml_resolves():
    """Scalars' tags are remembered between files or found at once from their first character; each is
    the tag the plain safe loader gives."""
    import yaml

    from engine.input import yamlsource

    text = "\n".join(f"k{i}: {v}" for i, v in enumerate(
        ["yes", "no", "on", "~", "null", "''", "1e3", "1.5", "012", "0x1F", "1:30", "1_000", "2020-01-01",
         "2020-01-01 10:00:00", ".inf", ".nan", "3.77亿元", "'yes'", "true", "-7", "+.5", "x" * 80, "", "北京",
         "n", "Yes", "=", "<<", "off"]))

    def tags(loader):
        return [v.tag for _, v in yaml.compose(text, Loader=loader).value]

    expected = tags(yaml.SafeLoader)
    yamlsource._Loader._resolved.clear()
    assert tags(yamlsource._Loader) == expected  # resolved afresh
    assert yamlsource._Loader._resolved
    assert tags(yamlsource._Loader) == expected  # remembered
