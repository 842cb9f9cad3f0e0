"""docgen.fmt keeps Babel's locale and parsed pattern (and the last dates it formatted): the text
must stay what Babel's own format_decimal / format_date give for the same values."""
import datetime as dt
import random
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal

from docgen import fmt


def test_numbers_are_babels():
    rnd = random.Random(5)
    values = [Decimal(rnd.randint(-10**12, 10**12)) / Decimal(10 ** rnd.randint(0, 9)) for _ in range(400)]
    values += [rnd.uniform(-1e7, 1e7) for _ in range(200)] + [0, Decimal("0.005"), Decimal("1E+3"), 2.675]
    for value in values:
        for lang in ("kk", "ru"):
            assert fmt.decimal(value, lang) == format_decimal(value, format="#,##0.######", locale=lang)
            for places in (0, 2, 4):
                pattern = "#,##0" + ("." + "0" * places if places else "")
                assert fmt.decimal(value, lang, places) == format_decimal(value, format=pattern, locale=lang)
    assert fmt.money(Decimal("3287376.25"), "ru") == "3\u00a0287\u00a0376,25"


def test_dates_are_babels_and_the_kept_ones_stay_right():
    day = dt.date(2026, 1, 1)
    for _ in range(2):  # the second pass answers from what was kept
        for i in range(0, 800, 3):
            d = day + dt.timedelta(days=i)
            assert fmt.date_long(d, "ru") == format_date(d, "d MMMM y 'года'", locale="ru")
            assert fmt.date_long(d, "kk", fmt.KazakhCase.DATIVE) == fmt.date_kk(d, fmt.KazakhCase.DATIVE)
            assert fmt.date_long(d, "kk", "ablative") == fmt.date_kk(d, fmt.KazakhCase.ABLATIVE)
    assert fmt.date_long(dt.date(2026, 11, 21), "ru") == "21 ноября 2026 года"
    assert fmt.date_long(dt.date(2026, 9, 15), "kk", fmt.KazakhCase.LOCATIVE) == "2026 жылғы 15 қыркүйектегі"
