"""The NCA's test identities (ТЕСТОВ ТЕСТ: IIN 123456789011, BIN 123456789021, which fail the
check digit) as expected signers: accepted only where the validation context allows them
(`docgen.model.ALLOW_NCA_TEST_IDENTITIES`, the service's QUJAT_ALLOW_NCA_TEST_IDENTITIES),
refused with the field's path and a message naming them otherwise; a citizen's IIN is checked
as always either way."""
from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from docgen.model import ALLOW_NCA_TEST_IDENTITIES, REQUEST_ADAPTER
from docgen.request import problems_from
from tests.conftest import example

TODAY = dt.date(2026, 11, 29)
NCA_IIN, NCA_BIN = "123456789011", "123456789021"


def _validate(signers: list[dict], allow: bool):
    raw = {**example("cadastral_value_act"), "signers": signers}
    return REQUEST_ADAPTER.validate_python(
        raw, context={"today": TODAY, ALLOW_NCA_TEST_IDENTITIES: allow})


def _problems(signers: list[dict], allow: bool) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        _validate(signers, allow)
    return {p.path: p.message for p in problems_from(refused.value)}


def test_refused_unless_allowed_with_the_path_and_why():
    signers = [{"role": "Басшы", "iin": "800102300120"},
               {"role": "Кәсіпорын басшысы", "iin": NCA_IIN, "bin": NCA_BIN}]
    problems = _problems(signers, allow=False)
    assert set(problems) == {"signers.1.iin", "signers.1.bin"}
    assert "NCA's test identity" in problems["signers.1.iin"] and NCA_IIN in problems["signers.1.iin"]
    assert "BIN of the NCA's test identity" in problems["signers.1.bin"]


def test_accepted_where_allowed():
    request = _validate([{"role": "Басшы", "iin": NCA_IIN}, {"role": "Ұйым", "bin": NCA_BIN}], allow=True)
    assert [(s.iin, s.bin) for s in request.signers] == [(NCA_IIN, None), (None, NCA_BIN)]


@pytest.mark.parametrize("allow", [True, False])
def test_a_wrong_check_digit_is_refused_either_way(allow):
    problems = _problems([{"role": "Басшы", "iin": "123456789013"}], allow=allow)
    assert list(problems) == ["signers.0.iin"] and "NCA" not in problems["signers.0.iin"]


def test_parse_request_refuses_them_unless_told_to_allow_them():
    from docgen.request import RequestInvalid, parse_request

    raw = {**example("cadastral_value_act"), "signers": [{"role": "Басшы", "iin": NCA_IIN}]}
    with pytest.raises(RequestInvalid) as refused:
        parse_request(raw, today=TODAY)
    assert [p.path for p in refused.value.problems] == ["signers.0.iin"]
    assert parse_request(raw, today=TODAY, allow_nca_test_identities=True).signers[0].iin == NCA_IIN
