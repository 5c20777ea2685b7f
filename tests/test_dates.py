"""Complete years between dates, as 民法典 第二百零二条 counts them: the n-th year ends on the
anniversary, or on the month's last day when there is none (29 February in a common year)."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.decide.facts import anniversary, full_years

D = dt.date


@pytest.mark.parametrize("start, end, years", [
    (D(2017, 4, 17), D(2020, 4, 16), 2),   # one day before the third anniversary
    (D(2017, 4, 17), D(2020, 4, 17), 3),   # on it
    (D(2017, 4, 17), D(2020, 4, 18), 3),   # one day after
    (D(2016, 2, 29), D(2019, 2, 27), 2),   # leap-day start, common year: the anniversary is 28 February
    (D(2016, 2, 29), D(2019, 2, 28), 3),
    (D(2016, 2, 29), D(2019, 3, 1), 3),
    (D(2016, 2, 29), D(2020, 2, 28), 3),   # leap year: the anniversary is 29 February itself
    (D(2016, 2, 29), D(2020, 2, 29), 4),
    (D(2012, 4, 17), D(2020, 9, 4), 8),    # QingCloud at filing
    (D(2020, 1, 1), D(2020, 1, 1), 0),
    (D(2020, 12, 31), D(2021, 12, 30), 0),
    (D(2020, 12, 31), D(2021, 12, 31), 1),
])
def test_full_years(start, end, years):
    assert full_years(start, end) == years


def test_anniversary_of_a_leap_day():
    assert anniversary(D(2016, 2, 29), 3) == D(2019, 2, 28)
    assert anniversary(D(2016, 2, 29), 4) == D(2020, 2, 29)


def test_backwards_is_negative():
    assert full_years(D(2020, 4, 17), D(2017, 4, 17)) == -3
