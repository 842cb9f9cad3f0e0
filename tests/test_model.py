"""Every validation rule of the request contract: a bad value, the field path and the message."""
from __future__ import annotations

import datetime as dt

import pytest

from docgen.errors import RequestInvalid
from kazakhstan.ids import check_digit, normalize_cadastral_number, validate_bin, validate_iin
from docgen.request import parse_request


def problems(raw) -> dict[str, str]:
    with pytest.raises(RequestInvalid) as e:
        parse_request(raw)
    return {p.path: p.message for p in e.value.problems}


def assert_problem(raw, path: str, *fragments: str):
    found = problems(raw)
    assert path in found, f"no problem at {path}; got {found}"
    for f in fragments:
        assert f in found[path], f"{path}: {found[path]!r} lacks {f!r}"


def with_iin(first11: str) -> str:
    return first11 + str(check_digit(first11))


# --- the examples themselves are valid -----------------------------------------------------------

@pytest.mark.parametrize("doc_type", ["land_right_act", "cadastral_information", "address_certificate",
                                      "cadastral_value_act", "motivated_refusal"])
def test_examples_are_valid(make_request, doc_type):
    req = parse_request(make_request(doc_type))
    assert req.type == doc_type


# --- IIN / BIN -----------------------------------------------------------------------------------

def test_iin_check_digit_worked_example():
    # official-forms.md §4.4: first pass gives 10, second pass gives 2
    assert validate_iin("061211600012") == "061211600012"
    assert validate_bin("940140000385") == "940140000385"


def test_iin_wrong_check_digit(make_request):
    raw = make_request("land_right_act")
    raw["data"]["holder"]["iin"] = "850314300123"
    assert_problem(raw, "data.holder.iin", "wrong control digit", "expected 2")


def test_iin_not_twelve_digits(make_request):
    raw = make_request("land_right_act")
    raw["data"]["holder"]["iin"] = "85031430012"
    assert_problem(raw, "data.holder.iin", "exactly 12 digits")


def test_iin_impossible_birth_date(make_request):
    raw = make_request("land_right_act")
    raw["data"]["holder"]["iin"] = with_iin("85133130012")  # month 13
    assert_problem(raw, "data.holder.iin", "birth date")


def test_iin_bad_century_digit(make_request):
    raw = make_request("land_right_act")
    raw["data"]["holder"]["iin"] = with_iin("85031470012")  # digit 7 = 7
    assert_problem(raw, "data.holder.iin", "century")


def test_iin_birth_in_future(make_request):
    raw = make_request("land_right_act")
    raw["data"]["holder"]["iin"] = with_iin("99010150012")  # 2099-01-01
    assert_problem(raw, "data.holder.iin", "future")


def test_iin_whose_check_digit_is_ten_twice_is_refused():
    # find an 11-digit stem for which neither weighting gives 0-9: such numbers are never issued
    stem = next(s for s in (f"8503143{n:04d}" for n in range(10000)) if check_digit(s) is None)
    for last in "0123456789":
        with pytest.raises(ValueError, match="cannot exist"):
            validate_iin(stem + last)


def test_bin_wrong_check_digit(make_request):
    raw = make_request("land_right_act")
    raw["data"]["issuer"]["bin"] = "050640001237"
    assert_problem(raw, "data.issuer.bin", "wrong control digit")


def test_bin_month_out_of_range(make_request):
    raw = make_request("cadastral_value_act")
    raw["data"]["applicant"]["bin"] = with_iin("05134000123")
    assert_problem(raw, "data.applicant.bin", "month")


# --- cadastral number ----------------------------------------------------------------------------

@pytest.mark.parametrize("given", ["20:311:009:1234", "20-311-009-1234", "20 311 009 1234", "203110091234"])
def test_cadastral_number_is_normalised(make_request, given):
    raw = make_request("cadastral_information")
    raw["data"]["land_plot"]["cadastral_number"] = given
    assert parse_request(raw).data.land_plot.cadastral_number == "20-311-009-1234"


@pytest.mark.parametrize("bad", ["20-311-009", "2O-311-009-1234", "20-311:009-1234", "20-3110-09-1234", ""])
def test_cadastral_number_malformed(make_request, bad):
    raw = make_request("cadastral_information")
    raw["data"]["land_plot"]["cadastral_number"] = bad
    assert_problem(raw, "data.land_plot.cadastral_number", "20-311-009-1234")


def test_cadastral_number_long_plot_group_kept():
    assert normalize_cadastral_number("01:011:003:12345") == "01-011-003-12345"


# --- areas and the plot polygon ------------------------------------------------------------------

@pytest.mark.parametrize("area", ["0", "-0.5"])
def test_area_must_be_positive(make_request, area):
    raw = make_request("cadastral_information")
    raw["data"]["land_plot"]["area_ha"] = area
    assert_problem(raw, "data.land_plot.area_ha", "greater than 0")


def test_area_must_match_polygon_within_one_percent(make_request):
    raw = make_request("land_right_act")
    computed = 0.16165703125
    raw["data"]["land_plot"]["area_ha"] = str(round(computed * 1.011, 4))  # 1.1 % off
    assert_problem(raw, "data.land_plot.area_ha", "differs", "1 %")
    raw["data"]["land_plot"]["area_ha"] = str(round(computed * 1.009, 4))  # 0.9 % off: accepted
    assert parse_request(raw).data.land_plot.area_ha > 0


def test_polygon_must_not_cross_itself(make_request):
    raw = make_request("land_right_act")
    pts = raw["data"]["plan"]["points"]
    pts[1], pts[2] = pts[2], pts[1]  # bow-tie
    assert_problem(raw, "data.plan.points", "cross itself")


def test_polygon_needs_three_points(make_request):
    raw = make_request("land_right_act")
    raw["data"]["plan"]["points"] = raw["data"]["plan"]["points"][:2]
    assert_problem(raw, "data.plan.points", "at least 3")


def test_polygon_point_names_unique(make_request):
    raw = make_request("land_right_act")
    raw["data"]["plan"]["points"][2]["name"] = "А"
    assert_problem(raw, "data.plan.points", "unique", "А")


def test_polygon_explicitly_closed_is_accepted(make_request):
    raw = make_request("land_right_act")
    raw["data"]["plan"]["points"].append(dict(raw["data"]["plan"]["points"][0]))
    assert len(parse_request(raw).data.plan.points) == 4


def test_adjacency_names_known_points(make_request):
    raw = make_request("land_right_act")
    raw["data"]["plan"]["adjacent"][0]["to"] = "Я"
    assert_problem(raw, "data.plan", "unknown points", "Я")


def test_value_row_area_positive(make_request):
    raw = make_request("cadastral_value_act")
    raw["data"]["rows"][1]["area"] = "0"
    assert_problem(raw, "data.rows.1.area", "greater than 0")


def test_value_row_value_is_never_sent(make_request):
    raw = make_request("cadastral_value_act")
    raw["data"]["rows"][0]["value"] = "1000"
    assert_problem(raw, "data.rows.0.value", "computed")


# --- dates and terms -----------------------------------------------------------------------------

def test_term_required_for_temporary_rights(make_request):
    raw = make_request("land_right_act")
    del raw["data"]["term"]
    assert_problem(raw, "data.term", "required", "temporary_paid_land_use")


def test_term_refused_for_ownership(make_request):
    raw = make_request("land_right_act")
    raw["data"]["right_kind"] = "private_ownership"
    assert_problem(raw, "data.term", "not limited in time")


def test_term_end_after_start(make_request):
    raw = make_request("land_right_act")
    raw["data"]["term"] = {"start": "2030-01-01", "end": "2029-12-31"}
    assert_problem(raw, "data.term", "after")


def test_decision_date_not_in_future(make_request):
    raw = make_request("land_right_act")
    raw["data"]["basis"]["date"] = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    assert_problem(raw, "data.basis.date", "future")


def test_date_format(make_request):
    raw = make_request("land_right_act")
    raw["data"]["basis"]["date"] = "15.09.2026"
    assert_problem(raw, "data.basis.date", "date")


# --- parties, text, envelope ---------------------------------------------------------------------

def test_common_ownership_shares_add_up(make_request):
    raw = make_request("land_right_act")
    raw["data"]["right_kind"] = "private_ownership"
    del raw["data"]["term"]
    raw["data"]["holder"] = [
        {"full_name": "Сәрсенбаев Нұрлан Қайратұлы", "iin": "850314300122", "share": "1/2"},
        {"full_name": "Сәрсенбаева Әйгерім Болатқызы", "iin": "900101400569", "share": "1/3"},
    ]
    assert_problem(raw, "data.holder", "add up to 5/6")
    raw["data"]["holder"][1]["share"] = "1/2"
    assert len(parse_request(raw).data.holder) == 2


def test_party_needs_iin_or_bin(make_request):
    raw = make_request("cadastral_value_act")
    raw["data"]["applicant"] = {"full_name": "Сәрсенбаев Нұрлан"}
    assert_problem(raw, "data.applicant", "'iin'")


def test_latin_letter_inside_kazakh_word(make_request):
    raw = make_request("land_right_act")
    raw["data"]["land_plot"]["address"]["kk"] = "Алматы облысы, Іле ауданы, Өтеген батыр ауылдық округi"  # Latin i
    assert_problem(raw, "data.land_plot.address.kk", "mixes Latin and Cyrillic")


def test_unknown_field_refused(make_request):
    raw = make_request("address_certificate")
    raw["data"]["colour"] = "blue"
    assert_problem(raw, "data.colour", "Extra inputs")


def test_unknown_type(make_request):
    raw = make_request("address_certificate")
    raw["type"] = "passport"
    assert_problem(raw, "", "'type' must be one of")


def test_unknown_language(make_request):
    raw = make_request("address_certificate")
    raw["language"] = "en"
    assert_problem(raw, "language", "'kk'")


def test_not_json():
    assert_problem(b"{not json", "", "not valid JSON")


def test_address_change_needs_previous_address(make_request):
    raw = make_request("address_certificate")
    del raw["data"]["previous_address"]
    assert_problem(raw, "data.previous_address", "change")


def test_address_assign_has_no_previous_address(make_request):
    raw = make_request("address_certificate")
    raw["data"]["operation"] = "assign"
    assert_problem(raw, "data.previous_address", "assign")


def test_rka_digits_only(make_request):
    raw = make_request("address_certificate")
    raw["data"]["rka"] = "02013000451729A1"
    assert_problem(raw, "data.rka", "pattern")


def test_premises_need_unit(make_request):
    raw = make_request("address_certificate")
    raw["data"]["object_kind"] = "premises"
    assert_problem(raw, "data.address.unit", "unit")


# --- refusal grounds belong to the cited service -------------------------------------------------

def test_refusal_ground_of_another_service(make_request):
    from docgen.catalog import load_catalog

    raw = make_request("motivated_refusal")
    own = raw["data"]["service"]
    foreign = next(g.code for s in load_catalog().services if s.code != own for g in s.refusal_grounds)
    raw["data"]["grounds"][0]["code"] = foreign
    assert_problem(raw, "data.grounds.0.code", "not a refusal ground of service", own)


def test_refusal_unknown_service(make_request):
    raw = make_request("motivated_refusal")
    raw["data"]["service"] = "999-99"
    assert_problem(raw, "data.service", "unknown service")


def test_refusal_needs_a_ground(make_request):
    raw = make_request("motivated_refusal")
    raw["data"]["grounds"] = []
    assert_problem(raw, "data.grounds", "at least 1")


def test_every_problem_is_reported_at_once(make_request):
    raw = make_request("land_right_act")
    raw["data"]["holder"]["iin"] = "850314300123"
    raw["data"]["land_plot"]["cadastral_number"] = "x"
    raw["data"]["basis"]["number"] = ""
    assert {"data.holder.iin", "data.land_plot.cadastral_number", "data.basis.number"} <= set(problems(raw))


# --- a refusal cites only what was in force on its date (docgen/catalog/README.md) -------------------

TODAY = dt.date(2026, 11, 29)


def refusal_of_decree_1392(make_request, issued_on: str, applied_on: str) -> dict:
    """The example refusal moved to service 1392-11 of decree No 1392 (repealed on 16 April 2014)."""
    raw = make_request("motivated_refusal")
    raw["data"].update(service="1392-11", issued_on=issued_on, application={"number": "1204", "date": applied_on})
    raw["data"]["grounds"] = [{"code": "1392-11.1", "explanation": {"kk": "Жер учаскесінің жоспары ұсынылмады.",
                                                                   "ru": "План земельного участка не представлен."}}]
    return raw


def problems_on(raw, today=TODAY) -> dict[str, str]:
    with pytest.raises(RequestInvalid) as e:
        parse_request(raw, today=today)
    return {p.path: p.message for p in e.value.problems}


def test_a_refusal_dated_today_cannot_cite_a_repealed_decree(make_request):
    found = problems_on(refusal_of_decree_1392(make_request, "2026-11-19", "2026-11-12"))
    message = found["data.grounds.0.code"]
    assert message.startswith("repealed on 16 April 2014: Decree of the Government of the RK No 1392 of 1 November 2012")
    assert "No 358 of 16 April 2014" in message and "dated 2026-11-19" in message
    assert "text and legal_basis" in message  # what to do instead


def test_without_issued_on_the_reference_today_is_the_documents_date(make_request):
    raw = refusal_of_decree_1392(make_request, "2026-11-19", "2013-05-20")
    del raw["data"]["issued_on"]
    assert "repealed on 16 April 2014" in problems_on(raw)["data.grounds.0.code"]
    # an archive regeneration: the caller's "today" is the record's date
    assert parse_request(raw, today=dt.date(2013, 6, 1)).data.grounds[0].code == "1392-11.1"


def test_a_refusal_dated_2013_still_cites_decree_1392(make_request):
    req = parse_request(refusal_of_decree_1392(make_request, "2013-06-01", "2013-05-20"), today=TODAY)
    assert req.data.issued_on == dt.date(2013, 6, 1)


def test_standards_1_to_4_are_cited_only_in_the_wording_of_decree_722(make_request):
    raw = make_request("motivated_refusal")
    raw["data"].update(service="1392-01", issued_on="2013-06-01", application={"number": "77", "date": "2013-05-30"})
    raw["data"]["grounds"][0]["code"] = "1392-01.1"
    assert "wording of Decree of the Government of the RK No 722 of 12 July 2013" in problems_on(raw)["data.grounds.0.code"]
    raw["data"].update(issued_on="2013-10-01", application={"number": "77", "date": "2013-09-30"})
    assert parse_request(raw, today=TODAY).data.service == "1392-01"


def test_rules_of_unknown_validity_are_never_cited(make_request):
    raw = make_request("motivated_refusal")
    raw["data"]["service"] = "S001-01"
    raw["data"]["grounds"][0]["code"] = "S001-01.1"
    assert "never cited" in problems_on(raw)["data.grounds.0.code"]


def stated_ground() -> dict:
    return {
        "text": {"kk": "көрсетілетін қызметті алушының құжаттарының дұрыс еместігінің анықталуы",
                 "ru": "установление недостоверности документов, представленных услугополучателем"},
        "legal_basis": {"kk": "Қағидалардың 9-тармағының 1) тармақшасы", "ru": "подпункт 1) пункта 9 Правил"},
        "explanation": {"kk": "Ұсынылған актінің көшірмесі түпнұсқаға сәйкес келмейді.",
                        "ru": "Представленная копия акта не соответствует подлиннику."},
    }


def refusal_with_stated_ground(make_request) -> dict:
    """Service 301-06 (order No 301, annex 6): in force, but its grounds are not in the seed."""
    raw = make_request("motivated_refusal")
    raw["data"]["service"] = "301-06"
    raw["data"]["grounds"] = [stated_ground()]
    return raw


def test_a_ground_the_catalog_lacks_is_given_by_the_request(make_request):
    ground = parse_request(refusal_with_stated_ground(make_request), today=TODAY).data.grounds[0]
    assert ground.code is None and ground.text.kk.startswith("көрсетілетін") and ground.legal_basis.ru.startswith("подпункт")


@pytest.mark.parametrize("remove, path", [
    (("legal_basis",), "data.grounds.0.legal_basis"),
    (("text",), "data.grounds.0.text"),
    (("text", "ru"), "data.grounds.0.text.ru"),
    (("legal_basis", "kk"), "data.grounds.0.legal_basis.kk"),
])
def test_a_stated_ground_needs_text_and_legal_basis_in_both_languages(make_request, remove, path):
    raw = refusal_with_stated_ground(make_request)
    target = raw["data"]["grounds"][0]
    for key in remove[:-1]:
        target = target[key]
    del target[remove[-1]]
    assert path in problems_on(raw)


def test_a_stated_ground_is_checked_for_mixed_scripts(make_request):
    raw = refusal_with_stated_ground(make_request)
    raw["data"]["grounds"][0]["legal_basis"]["kk"] = "Қағидалардың 9-тармағының 1) тармақшасi"  # Latin i
    assert "mixes Latin and Cyrillic" in problems_on(raw)["data.grounds.0.legal_basis.kk"]


def test_a_ground_is_a_code_or_a_text_never_both(make_request):
    raw = make_request("motivated_refusal")
    raw["data"]["grounds"][0].update(text=stated_ground()["text"])
    assert "either code, or text and legal_basis" in problems_on(raw)["data.grounds.0.text"]


def test_a_service_with_grounds_in_force_is_refused_by_its_own_codes(make_request):
    raw = make_request("motivated_refusal")  # service 301-03: order No 301 is in force
    raw["data"]["grounds"] = [stated_ground()]
    assert "cite them by code" in problems_on(raw)["data.grounds.0.text"]


def test_a_service_of_a_repealed_act_has_no_refusal_dated_today(make_request):
    raw = refusal_with_stated_ground(make_request)
    raw["data"]["service"] = "1392-07"
    message = problems_on(raw)["data.service"]
    assert message.startswith("repealed on 16 April 2014") and "301-01" in message  # see_also: the current service


def test_a_service_without_a_provider_in_the_catalog_needs_one_in_the_request(make_request):
    raw = refusal_with_stated_ground(make_request)
    del raw["data"]["provider"]
    assert "give the provider" in problems_on(raw)["data.provider"]


@pytest.mark.parametrize("digits", [str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),      # Arabic-Indic
                                    str.maketrans("0123456789", "０１２３４５６７８９")])  # full-width
def test_the_leaf_takes_only_the_digits_0_to_9(digits):
    """`\\d` would match other scripts' digits: an IIN, a BIN or a cadastral number so written
    would be stored and printed as typed and never match a certificate."""
    with pytest.raises(ValueError):
        validate_iin("800102300120".translate(digits), today=dt.date(2026, 1, 1))
    with pytest.raises(ValueError):
        validate_bin("123456789021".translate(digits))
    with pytest.raises(ValueError):
        normalize_cadastral_number("20-311-042-105".translate(digits))
