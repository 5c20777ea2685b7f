"""Units: amounts are parsed exactly as filings write them, refused when their unit is unknown
or missing, computed with exact fractions, and formatted exactly (≈ only when a decimal
does not terminate)."""

from __future__ import annotations

import ast
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from engine.input.units import (DIM_BY_NAME, MONEY, PRICE, RATIO, SHARES, UNITS, Dim, Quantity, UnitError, canonical_text,
                          decimal_text, format_quantity, from_number, parse_amount)

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def money(yuan) -> Quantity:
    return Quantity(Fraction(yuan), MONEY)


# ---------------------------------------------------------------------------------
# Parsing every unit


@pytest.mark.parametrize("text, value, dim", [
    ("1元", 1, MONEY),
    ("37,682.20万元", Fraction(376_822_000), MONEY),
    ("3.77亿元", 377_000_000, MONEY),
    ("30亿元", 3_000_000_000, MONEY),
    ("1股", 1, SHARES),
    ("1200万股", 12_000_000, SHARES),
    ("1,200万股", 12_000_000, SHARES),
    ("3,546.2175万股", 35_462_175, SHARES),
    ("4亿股", 400_000_000, SHARES),
    ("63.70元/股", Fraction(637, 10), PRICE),
    ("25%", Fraction(1, 4), RATIO),
    ("0.5%", Fraction(1, 200), RATIO),
    ("50倍", 50, RATIO),
    ("1.5倍", Fraction(3, 2), RATIO),
])
def test_every_unit_parses_to_its_exact_base_value(text, value, dim):
    q = parse_amount(text)
    assert q == Quantity(Fraction(value), dim)
    assert isinstance(q.value, Fraction)


def test_the_filing_units_are_known():
    assert {"元", "万元", "亿元", "股", "万股", "亿股", "元/股", "%", "倍"} <= set(UNITS)


@pytest.mark.parametrize("symbol", sorted(s for s in UNITS if s))
def test_every_known_unit_parses_with_its_factor_and_dimension(symbol):
    unit = UNITS[symbol]
    assert parse_amount(f"3.5{symbol}") == Quantity(Fraction(7, 2) * unit.factor, unit.dim)
    assert parse_amount(f"1,000{symbol}") == Quantity(1000 * unit.factor, unit.dim)


@pytest.mark.parametrize("text, value", [
    ("1,000元", 1_000),
    ("1,000,000元", 1_000_000),
    ("12,345,678.9元", Fraction(123_456_789, 10)),
    ("37,682.20万元", 376_822_000),
])
def test_thousands_separators(text, value):
    assert parse_amount(text).value == value


@pytest.mark.parametrize("text, value", [
    ("-9,647.78万元", -96_477_800),
    ("+5元", 5),
    ("- 5元", -5),
    ("-0.01万元", -100),
    ("-人民币5万元", -50_000),
])
def test_signs(text, value):
    assert parse_amount(text, dim=MONEY).value == value


@pytest.mark.parametrize("text", ["人民币3000万元", "人民币 3000万元", "人民币3,000万元"])
def test_renminbi_prefix_is_accepted(text):
    assert parse_amount(text, dim=MONEY) == money(30_000_000)


@pytest.mark.parametrize("text, value, dim", [
    ("１２００万股", 12_000_000, SHARES),      # full-width digits
    ("２５％", Fraction(1, 4), RATIO),          # full-width digits and per cent sign
    ("25％", Fraction(1, 4), RATIO),
    ("３，０００万元", 30_000_000, MONEY),       # full-width comma
    ("１２．５％", Fraction(1, 8), RATIO),      # full-width full stop
    ("－３万元", -30_000, MONEY),              # full-width minus
    ("　3万元　", 30_000, MONEY),              # ideographic spaces around
])
def test_full_width_input_is_normalised(text, value, dim):
    assert parse_amount(text) == Quantity(Fraction(value), dim)


def test_spaces_between_number_and_unit_are_allowed():
    assert parse_amount("3000 万元") == money(30_000_000)
    assert parse_amount(" 3万元 ") == money(30_000)


def test_a_leading_point_is_a_number():
    assert parse_amount(".5万元") == money(5_000)


# ---------------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize("dim, example", [(MONEY, "万元"), (SHARES, "万股"), (PRICE, "元/股")])
def test_number_without_unit_is_refused_where_a_unit_is_required(dim, example):
    with pytest.raises(UnitError) as caught:
        parse_amount("3000", dim=dim)
    message = str(caught.value)
    assert "has no unit" in message
    assert f"units.{dim.name}" in message  # tells the user how to declare one
    assert example in message or dim == PRICE and "元/股" in message


def test_default_unit_gives_a_bare_number_its_unit():
    assert parse_amount("37,682.20", dim=MONEY, default_unit="万元") == money(376_822_000)
    assert parse_amount("1200", dim=SHARES, default_unit="万股") == Quantity(Fraction(12_000_000), SHARES)
    # a written unit wins over the declared one
    assert parse_amount("3亿元", dim=MONEY, default_unit="万元") == money(300_000_000)


def test_default_unit_of_the_wrong_dimension_is_refused():
    with pytest.raises(UnitError, match="shares, but money is expected"):
        parse_amount("3000", dim=MONEY, default_unit="万股")


def test_bare_number_is_a_ratio_where_a_ratio_is_expected():
    assert parse_amount("0.25", dim=RATIO) == Quantity(Fraction(1, 4), RATIO)


@pytest.mark.parametrize("text", ["3000美元", "3000千元", "3000万", "3000元/万股", "5 pct", "3000万元abc"])
def test_unknown_unit_is_refused_and_known_units_are_listed(text):
    with pytest.raises(UnitError) as caught:
        parse_amount(text)
    message = str(caught.value)
    assert "unknown unit" in message
    assert "万元" in message and "万股" in message


@pytest.mark.parametrize("text, dim, found", [
    ("1200万股", MONEY, "shares"),
    ("3000万元", SHARES, "money"),
    ("25%", MONEY, "ratio"),
    ("3000万元", PRICE, "money"),
    ("63.70元/股", MONEY, "price"),
    ("1.00股", PRICE, "shares"),
])
def test_wrong_dimension_is_refused(text, dim, found):
    with pytest.raises(UnitError, match=f"is {found}, but {dim.name} is expected"):
        parse_amount(text, dim=dim)


def test_yuan_reads_as_yuan_per_share_where_a_price_is_expected():
    assert parse_amount("63.70元", dim=PRICE) == Quantity(Fraction(637, 10), PRICE)
    assert parse_amount("63.70元", dim=MONEY) == Quantity(Fraction(637, 10), MONEY)


@pytest.mark.parametrize("text", [
    "3,7682万元",     # separator in the wrong place
    "1,00万元",
    "12,3456元",
    "3..0万元",
    "3.万元",
    "1,000,00元",
    ",100元",
    "3 000万元",
    "3万 元",
    "人民币-5万元",
    "",
    "   ",
    "万元",
    "abc",
    "nan万元",
    "inf",
    "1/3万元",
])
def test_malformed_numbers_are_refused(text):
    with pytest.raises(UnitError):
        parse_amount(text)


def test_exponent_form_is_refused():
    with pytest.raises(UnitError):
        parse_amount("1e5万元", dim=MONEY)


def test_from_number_uses_the_declared_unit_and_refuses_without_one():
    assert from_number(Decimal("37682.20"), dim=MONEY, unit="万元") == money(376_822_000)
    assert from_number(1200, dim=SHARES, unit="万股") == Quantity(Fraction(12_000_000), SHARES)
    assert from_number(Decimal("0.25"), dim=RATIO, unit=None) == Quantity(Fraction(1, 4), RATIO)
    with pytest.raises(UnitError, match="has no unit"):
        from_number(3000, dim=MONEY, unit=None)
    with pytest.raises(UnitError, match="has no unit"):
        from_number(Decimal("1200"), dim=SHARES, unit=None)


def test_from_number_refuses_booleans():
    with pytest.raises(UnitError):
        from_number(True, dim=MONEY, unit="万元")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------
# Exact arithmetic


def test_tenths_add_exactly():
    total = parse_amount("0.1万元") + parse_amount("0.2万元")
    assert total == parse_amount("0.3万元")
    assert total.value == 3_000


def test_many_cents_add_exactly():
    cent = parse_amount("0.01元")
    total = Quantity(Fraction(0), MONEY)
    for _ in range(1000):
        total = total + cent
    assert total == parse_amount("10元")


def test_ratio_is_exact_at_the_boundary():
    new = parse_amount("2500万股")
    total = parse_amount("7500万股") + new
    assert new / total == parse_amount("25%")
    # one share more and the ratio is below 25%, however small the difference
    assert (new / (total + parse_amount("1股"))).value < Fraction(1, 4)


def test_qingcloud_float_ratio_is_the_exact_fraction():
    new = parse_amount("1,200万股")
    total = parse_amount("3,546.2175万股") + new
    ratio = new / total
    assert ratio.value == Fraction(12_000_000, 47_462_175)
    assert ratio.dim == RATIO


def test_decimal_text_values_are_read_exactly_not_through_float():
    q = parse_amount("0.1元")
    assert q.value == Fraction(1, 10)
    assert q.value != Fraction(0.1)  # the double nearest 0.1 is not 0.1


def test_values_are_fractions_after_every_operation():
    a, b = parse_amount("3.77亿元"), parse_amount("1200万股")
    for result in (a + a, a - a, a * b, a / b, -a, a ** 2):
        assert isinstance(result.value, Fraction)


def test_units_module_uses_no_float():
    """No float literal and no float() call anywhere in units.py."""
    tree = ast.parse((ENGINE / "input" / "units.py").read_text(encoding="utf-8"))
    floats = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)]
    calls = [n for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "float"]
    assert not floats and not calls


def test_division_by_zero_is_an_error_not_infinity():
    with pytest.raises(ZeroDivisionError):
        parse_amount("3万元") / parse_amount("0万股")


def test_in_unit_gives_the_exact_value_in_that_unit():
    q = parse_amount("37,682.20万元")
    assert q.in_unit("万元") == Fraction(3_768_220, 100)
    assert q.in_unit("亿元") == Fraction(3_768_220, 1_000_000)
    with pytest.raises(UnitError):
        q.in_unit("万股")


# ---------------------------------------------------------------------------------
# Dimension algebra


def test_money_over_shares_is_a_price():
    price = parse_amount("30亿元") / parse_amount("4,746.2175万股")
    assert price.dim == PRICE
    assert price.dim.name == "price"


def test_shares_over_shares_is_a_ratio():
    ratio = parse_amount("1200万股") / parse_amount("4746.2175万股")
    assert ratio.dim == RATIO


def test_price_times_shares_is_money():
    cap = parse_amount("63.70元/股") * parse_amount("4,746.2175万股")
    assert cap.dim == MONEY
    assert cap.value == Fraction(637, 10) * 47_462_175


def test_money_over_money_is_a_ratio():
    assert (parse_amount("3亿元") / parse_amount("30亿元")) == parse_amount("10%")


@pytest.mark.parametrize("a, b", [("3000万元", "1200万股"), ("1200万股", "3000万元"), ("3000万元", "25%"),
                                  ("63.70元/股", "3000万元")])
def test_adding_or_subtracting_different_dimensions_raises(a, b):
    with pytest.raises(UnitError):
        parse_amount(a) + parse_amount(b)
    with pytest.raises(UnitError):
        parse_amount(a) - parse_amount(b)


def test_a_unitless_zero_is_compatible_with_any_dimension():
    zero = Quantity(Fraction(0), RATIO)
    amount = parse_amount("3000万元")
    assert (amount + zero) == amount
    assert (zero + amount) == amount
    assert (amount - zero) == amount
    assert (zero - amount) == -amount
    shares = parse_amount("1200万股")
    assert (shares + zero).dim == SHARES


def test_a_unitless_nonzero_is_not_compatible():
    with pytest.raises(UnitError):
        parse_amount("3000万元") + Quantity(Fraction(1), RATIO)


def test_dim_algebra():
    assert MONEY / SHARES == PRICE
    assert PRICE * SHARES == MONEY
    assert SHARES / SHARES == RATIO
    assert MONEY ** 2 == Dim(2, 0)
    assert Dim(2, 0).name == "money^2·shares^0"
    assert DIM_BY_NAME == {"money": MONEY, "shares": SHARES, "price": PRICE, "ratio": RATIO,
                           "receipts": Dim(0, 0, 1), "receipt_price": Dim(1, 0, -1),
                           "receipts_per_share": Dim(0, -1, 1)}
    # 份 are their own dimension: 10份/股 × 1股 is 10份, never 10股
    assert (parse_amount("10份/股") * parse_amount("7,040,917股")).dim == Dim(0, 0, 1)
    with pytest.raises(UnitError):
        parse_amount("1份") + parse_amount("1股")


def test_power_squares_value_and_dimension():
    q = parse_amount("2元") ** 2
    assert q == Quantity(Fraction(4), Dim(2, 0))


# ---------------------------------------------------------------------------------
# Formatting


@pytest.mark.parametrize("value, text", [
    (Fraction(1, 4), "0.25"),
    (Fraction(-1, 4), "-0.25"),
    (Fraction(1234567, 100), "12,345.67"),
    (Fraction(0), "0"),
    (Fraction(5), "5"),
    (Fraction(1, 8), "0.125"),
    (Fraction(1, 10_000), "0.0001"),
    (Fraction(10) ** 12, "1,000,000,000,000"),
])
def test_decimal_text_is_exact_when_the_decimal_terminates(value, text):
    assert decimal_text(value) == text


@pytest.mark.parametrize("value, text", [
    (Fraction(1, 3), "≈0.3333"),
    (Fraction(-1, 3), "≈-0.3333"),
    (Fraction(2, 3), "≈0.6667"),
    (Fraction(1, 100_000), "≈0"),         # terminates, but not within 4 places
    (Fraction(10_000_001, 3), "≈3,333,333.6667"),
])
def test_decimal_text_marks_rounded_values_with_approx(value, text):
    assert decimal_text(value) == text


def test_a_tiny_negative_value_is_not_shown_as_an_exact_zero():
    assert decimal_text(Fraction(-1, 300_000)).startswith("≈")
    assert decimal_text(Fraction(1, 300_000)).startswith("≈")


def test_decimal_text_places_and_grouping():
    assert decimal_text(Fraction(1, 8), max_places=3) == "0.125"
    assert decimal_text(Fraction(1, 8), max_places=2).startswith("≈")
    assert decimal_text(Fraction(1234567, 100), group=False) == "12345.67"


@pytest.mark.parametrize("value", [
    Fraction(10 ** 30, 3),        # a very large amount that does not terminate
    Fraction(10 ** 40 + 1, 7),
    Fraction(-(10 ** 30), 3),
])
def test_decimal_text_of_a_huge_non_terminating_value_does_not_crash(value):
    text = decimal_text(value)
    assert text.startswith("≈")
    digits = text.lstrip("≈-").replace(",", "").split(".")[0]
    assert len(digits) == len(str(abs(value.numerator // value.denominator)))


@pytest.mark.parametrize("q, text", [
    (parse_amount("37,682.20万元"), "3.76822亿元"),
    (parse_amount("3000万元"), "3,000万元"),
    (parse_amount("30亿元"), "30亿元"),
    (parse_amount("1200万股"), "1,200万股"),
    (parse_amount("25%"), "25%"),
    (parse_amount("63.70元/股"), "63.7元/股"),
    (parse_amount("1200万股") / parse_amount("4746.2175万股"), "≈25.2833%"),
])
def test_format_quantity_uses_the_filing_units(q, text):
    assert format_quantity(q) == text
    assert str(q) == text


def test_format_quantity_in_a_chosen_unit_and_signed():
    q = parse_amount("3万元")
    assert format_quantity(q, unit="元") == "30,000元"
    assert format_quantity(q, signed=True) == "+3万元"
    assert format_quantity(-q, signed=True) == "-3万元"
    third = parse_amount("1万股") / parse_amount("3万股")
    assert format_quantity(third, signed=True) == "≈+33.3333%"
    assert format_quantity(-third, signed=True) == "≈-33.3333%"


def test_format_quantity_refuses_to_mislabel_a_dimension():
    text = format_quantity(parse_amount("3万元"), unit="万股")
    assert "万股" not in text and "money" in text


def test_canonical_text_is_exact():
    assert canonical_text(parse_amount("3000万元")) == "30000000"
    assert canonical_text(parse_amount("25%")) == "0.25"
    assert canonical_text(parse_amount("63.70元/股")) == "63.7"
    ratio = parse_amount("1200万股") / parse_amount("4746.2175万股")
    assert canonical_text(ratio) == "160000/632829"
    assert Fraction(canonical_text(ratio)) == ratio.value


def test_text_passed_over_by_the_lookalike_check_holds_no_digit_like_mark():
    """The check skips text of ASCII and CJK ideographs only: not one of those is a footnote mark."""
    import unicodedata

    from engine.input.units import _NO_LOOKALIKES

    assert [hex(c) for c in (0x7F, 0x80, 0xB2, 0x2460, 0x4DFF, 0x4E00, 0x9FFF, 0xA000, 0xFF11)
            if _NO_LOOKALIKES.fullmatch(chr(c))] == ["0x7f", "0x4e00", "0x9fff"]
    skipped = [chr(c) for c in [*range(0x80), *range(0x4E00, 0xA000)]]
    assert not [ch for ch in skipped if unicodedata.category(ch) == "No" or unicodedata.decomposition(ch).startswith(
        ("<super>", "<sub>", "<circle>", "<fraction>"))]
    with pytest.raises(UnitError, match="footnote"):
        parse_amount("3.77亿元²", dim=MONEY)


@pytest.mark.parametrize("digits", ["0", "7", "0.5", ".25", "37,682.20", "1,000,000.000001", "000123.4500", "3.77"])
@pytest.mark.parametrize("symbol", ["元", "万元", "亿元", "万股", "%", "元/股"])
@pytest.mark.parametrize("sign", ["", "-"])
def test_amounts_are_the_exact_decimal_times_the_unit(digits, symbol, sign):
    value = parse_amount(f"{sign}{digits}{symbol}")
    expected = Fraction(Decimal(digits.replace(",", ""))) * UNITS[symbol].factor
    assert value.value == (-expected if sign else expected) and value.dim == UNITS[symbol].dim
