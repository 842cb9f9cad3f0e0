"""The service catalog: what it holds per seed, its codes, its languages, and its legal wording
checked word for word against the seed texts in tests/data/seeds/ (see tests/data/README.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from docgen.catalog import (
    Catalog,
    CatalogError,
    GroundKind,
    UnknownGround,
    UnknownService,
    Validity,
    load_catalog,
    read_catalog,
)
from docgen.fmt import KazakhCase, date_kk

CATALOG_DIR = Path(__file__).resolve().parents[1] / "docgen" / "catalog"
SEEDS = Path(__file__).resolve().parent / "data" / "seeds"
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
WORD = re.compile(r"[A-Za-z\u0400-\u04FF]+")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# --- what the catalog holds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed, codes, grounds",
    [
        ("000", [f"301-{n:02d}" for n in range(1, 16)], 3),
        ("001", ["S001-01"], 3),
        ("002", [f"1392-{n:02d}" for n in range(1, 15)], 31),
        ("003", ["1392-11"], 1),
        ("004", ["KRG5610-01"], 1),
    ],
)
def test_services_and_grounds_per_seed(catalog, seed, codes, grounds):
    services = catalog.from_seed(seed)
    assert [s.code for s in services] == codes
    assert sum(len(s.refusal_grounds) for s in services) == grounds


def test_every_service_comes_from_a_seed(catalog):
    assert len(catalog) == 31
    for service in catalog:
        assert service.source.seeds, service.code
        assert all(re.fullmatch(r"00[0-4]_[0-9a-f]{16}\.txt", f) for f in service.source.seeds)


def test_codes_are_unique_ascii_and_grounds_carry_their_service_code(catalog):
    assert len(set(catalog.codes)) == len(catalog)
    grounds = [g.code for s in catalog for g in s.refusal_grounds]
    assert len(grounds) == len(set(grounds))
    for service in catalog:
        assert service.code.isascii() and re.fullmatch(r"[A-Z0-9]+-\d{2}", service.code)
        for ground in service.refusal_grounds:
            assert ground.code.startswith(service.code + "."), ground.code
            assert ground.code.isascii()


def test_names_and_texts_are_given_in_both_languages(catalog):
    for service in catalog:
        assert service.name.kk.strip() and service.name.ru.strip(), service.code
        for ground in service.refusal_grounds:
            for text in (ground.wording.kk, ground.wording.ru, ground.basis.kk, ground.basis.ru):
                assert text.strip(), ground.code


def test_a_service_with_grounds_says_what_its_refusal_is_called_and_whom_it_comes_from(catalog):
    for service in catalog:
        if service.can_refuse:
            assert service.refusal_document is not None, service.code
            assert service.provider is not None, service.code


def test_basis_of_each_ground_names_its_own_act_or_rules(catalog):
    for service in catalog:
        for ground in service.refusal_grounds:
            assert service.name.kk in ground.basis.kk, ground.code
            assert service.name.ru in ground.basis.ru, ground.code


def test_services_without_grounds_in_the_seed_have_none_invented(catalog):
    # Order 301: only annex 3 is in the seed; decree 1392 standards 7-10 provide no refusal.
    empty = {s.code for s in catalog if not s.refusal_grounds}
    assert empty == {f"301-{n:02d}" for n in range(1, 16) if n != 3} | {f"1392-{n:02d}" for n in (7, 8, 9, 10)}
    for code in sorted(empty):
        assert not catalog.get(code).can_refuse


def test_deadlines_have_the_machine_number_where_the_act_gives_one(catalog):
    assert catalog.get("301-03").deadline.working_days == 4
    assert catalog.get("1392-01").deadline.working_days == 6
    assert catalog.get("1392-06").deadline.calendar_days == 30
    assert catalog.get("1392-07").deadline.minutes == 20
    assert catalog.get("1392-11").deadline.working_days == 3
    assert catalog.get("1392-13").deadline.calendar_days == 37
    assert catalog.get("KRG5610-01").deadline.working_days == 7
    assert catalog.get("301-06").deadline is None


def test_order_301_annex_3_cites_the_right_clauses(catalog):
    service = catalog.get("301-03")
    assert [g.code for g in service.refusal_grounds] == ["301-03.1", "301-03.2", "301-03.d1"]
    assert "13-тармағының 1) тармақшасы" in service.ground("301-03.1").basis.kk
    assert "подпункт 2) пункта 13" in service.ground("301-03.2").basis.ru
    assert "8-тармағы" in service.ground("301-03.d1").basis.kk
    assert service.ground("301-03.d1").kind is GroundKind.INCOMPLETE_DOCUMENTS


# --- languages ----------------------------------------------------------------------------------


def _mixed_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text) if re.search(r"[A-Za-z]", w) and re.search(r"[\u0400-\u04FF]", w)]


def test_no_word_in_the_catalog_files_mixes_latin_and_cyrillic_letters():
    files = sorted(CATALOG_DIR.glob("*.yaml"))
    assert files
    for path in files:
        assert _mixed_words(path.read_text("utf-8")) == [], path.name


def _all_texts(catalog, language):
    for s in catalog:
        yield s.code, s.name.get(language)
        for item in (s.provider, s.refusal_document, s.deadline and s.deadline.text, *s.result_documents):
            if item:
                yield s.code, item.get(language)
        for g in s.refusal_grounds:
            yield g.code, g.wording.get(language)
            yield g.code, g.basis.get(language)


def test_kazakh_texts_use_kazakh_letters(catalog):
    for code, text in _all_texts(catalog, "kk"):
        if len(text.split()) >= 3:
            assert KAZAKH_LETTERS & set(text), (code, text)
    for service in catalog:
        assert KAZAKH_LETTERS & set(service.name.kk), service.code


def test_russian_texts_have_no_kazakh_letters(catalog):
    for code, text in _all_texts(catalog, "ru"):
        assert not KAZAKH_LETTERS & set(text), (code, text)


# --- wording checked against the seeds -----------------------------------------------------------

HOMOGLYPHS = str.maketrans("aceiopxyABCEHIKMOPTX", "асеіорхуАВСЕНІКМОРТХ")


def normalise(text: str) -> str:
    """Comparable form: Latin look-alikes inside Cyrillic words made Cyrillic (some seeds print a
    Latin i for і), markup dropped, and all white space removed (the PDF extraction letter-spaces
    words and breaks lines anywhere)."""
    text = re.sub(r"<[^>]+>|\*\*", "", text)
    text = WORD.sub(lambda m: m.group(0).translate(HOMOGLYPHS) if _mixed_words(m.group(0)) else m.group(0), text)
    return re.sub(r"\s+", "", text).casefold()


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    found = {p.name: normalise(p.read_text("utf-8")) for p in sorted(SEEDS.glob("0*.txt"))}
    assert len(found) == 5, f"the five seed texts belong in {SEEDS}"
    return found


def _in_seed(seeds, seed_prefix, text):
    (name,) = [n for n in seeds if n.startswith(seed_prefix)]
    return normalise(text) in seeds[name]


def test_the_catalog_names_exactly_the_seed_files(catalog, seeds):
    assert {f for s in catalog for f in s.source.seeds} == set(seeds)


def test_every_kazakh_service_name_stands_in_its_seed(catalog, seeds):
    for service in catalog:
        kazakh_seeds = [f for f in service.source.seeds if not f.startswith("003")]
        assert any(_in_seed(seeds, f[:3], service.name.kk) for f in kazakh_seeds), service.code


def test_russian_of_standard_11_is_the_text_of_seed_003(catalog, seeds):
    service = catalog.get("1392-11")
    for text in (
        service.name.ru,
        service.result_documents[0].ru,
        service.refusal_document.ru,
        service.ground("1392-11.1").wording.ru,
    ):
        assert _in_seed(seeds, "003", text), text
    # the provider: the seed names it in the instrumental case ("оказывается ... подразделениями")
    provider = "местных исполнительных органов областей (города республиканского значения, столицы), района"
    assert provider in service.provider.ru
    assert _in_seed(seeds, "003", provider)


# (ground, seed, fragment of the wording that stands in the seed word for word; None = all of it)
VERBATIM = [
    ("301-03.1", "000", None),
    ("301-03.2", "000", None),
    ("301-03.d1", "000", None),
    ("S001-01.1", "001", None),
    ("S001-01.2", "001", "43-бабының 3-тармағының алтыншы бөлігінде және 6-1-тармағында, 49-2-бабының "
     "6-тармағының екінші бөлігінде, 50-бабының 2 және 2-1-тармақтарында белгіленген талаптарға сәйкес келмеуі"),
    ("S001-01.3", "001", "44-1-бабының 4-тармағына сәйкес мемлекеттік қызмет көрсету үшін талап етілетін "
     "келісу туралы сұранымға келісуші органдардың теріс жауабы"),
    *((f"1392-0{n}.{k}", "002", None) for n in (1, 2, 3, 4) for k in (1, 2, 3)),
    ("1392-01.d1", "002", "тиісті құжаттар толық ұсынылмаған жағдайда"),
    ("1392-05.1", "002", None),
    ("1392-05.2", "002", None),
    ("1392-05.d1", "002", None),
    ("1392-06.1", "002", None),
    ("1392-06.2", "002", None),
    ("1392-06.3", "002", None),
    ("1392-11.1", "002", "құжаттарды табыс етпеген жағдайда"),
    ("1392-12.1", "002", "Қазақстан Республикасының Жер кодексінің талаптарына және нормаларына"),
    ("1392-12.2", "002", "Қазақстан Республикасы Үкіметінің 2003 жылғы 20 қыркүйектегі № 958"),
    ("1392-13.1", "002", None),
    ("1392-14.1", "002", None),
    ("KRG5610-01.d1", "004", None),
]


@pytest.mark.parametrize("ground_code, seed, fragment", VERBATIM, ids=[v[0] for v in VERBATIM])
def test_kazakh_ground_wording_is_the_seed_text(catalog, seeds, ground_code, seed, fragment):
    service = catalog.get(ground_code.rsplit(".", 1)[0])
    wording = service.ground(ground_code).wording.kk
    fragment = fragment or wording
    assert normalise(fragment) in normalise(wording)
    assert _in_seed(seeds, seed, fragment), f"{ground_code}: not in seed {seed}: {fragment}"


def test_results_and_providers_stand_in_the_seeds(catalog, seeds):
    s = catalog.get("301-03")
    assert _in_seed(seeds, "000", s.provider.kk)
    assert _in_seed(seeds, "000", s.result_documents[0].kk)
    assert _in_seed(seeds, "000", s.refusal_document.kk)
    s = catalog.get("S001-01")
    assert _in_seed(seeds, "001", s.provider.kk)
    s = catalog.get("1392-05")
    assert _in_seed(seeds, "002", s.provider.kk)
    assert _in_seed(seeds, "002", s.deadline.text.kk)


# --- the loader ---------------------------------------------------------------------------------


def test_load_catalog_is_read_once(catalog):
    assert load_catalog() is catalog


def test_unknown_codes_raise_key_errors_that_say_what_was_asked(catalog):
    with pytest.raises(UnknownService, match="'301-99'") as exc:
        catalog.get("301-99")
    assert isinstance(exc.value, KeyError)
    assert "301-99" not in catalog and "301-03" in catalog
    with pytest.raises(UnknownGround, match="1392-01 has no refusal ground '301-03.1'"):
        catalog.get("1392-01").ground("301-03.1")  # a refusal cites only its own service's grounds


def test_objects_are_frozen(catalog):
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.get("301-03").code = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.get("301-03").refusal_grounds[0].wording.kk = "x"  # type: ignore[misc]


def _broken_copy(tmp_path, change):
    data = yaml.safe_load((CATALOG_DIR / "services.yaml").read_text("utf-8"))
    change(data)
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def _set(path, value):
    def change(data):
        *head, last = path
        target = data
        for key in head:
            target = target[key]
        target[last] = value
    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (_set(["services", 2, "name", "ru"], ""), r"services\[2\] \(301-03\)\.name\.ru: must be a non-empty string"),
        (_set(["services", 2, "name", "kk"], "Жер учаскeлерін"), r"name\.kk: word 'учаскeлерін' mixes Latin"),
        (_set(["services", 2, "refusal_grounds", 0, "code"], "301-04.1"), r"'301-04\.1' must be '301-03\.<N>'"),
        (_set(["services", 2, "refusal_grounds", 0, "kind"], "other"), r"kind: kind must be one of"),
        (_set(["services", 2, "provder"], None), r"unknown key\(s\) \['provder'\]"),
        (_set(["services", 3, "code"], "301-03"), r"301-03 already used by services\[2\]"),
        (_set(["services", 2, "see_also"], ["1392-99"]), r"no service '1392-99'"),
        (_set(["services", 2, "source", "act"], "999"), r"'999' is not a key of `acts`"),
        (_set(["services", 2, "deadline", "calendar_days"], 4), r"give at most one of"),
        (_set(["services", 2, "code"], "301/03"), r"'301/03' is not a service code"),
    ],
)
def test_a_malformed_catalog_is_refused_with_the_place_and_the_reason(tmp_path, change, message):
    with pytest.raises(CatalogError, match=message):
        read_catalog(_broken_copy(tmp_path, change))


def test_a_catalog_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "services.yaml"
    path.write_text("services: [unclosed\n", "utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        read_catalog(path)


def test_a_faithful_copy_reads_the_same(tmp_path):
    assert read_catalog(_broken_copy(tmp_path, lambda data: None)) == load_catalog()


# --- legal sources and their validity ------------------------------------------------------------

# (act key, seed, in force from, repealed on)
ACTS = [
    ("301", "000", dt.date(2020, 10, 1), None),
    ("1392", "002", dt.date(2012, 11, 1), dt.date(2014, 4, 16)),
    ("722", "002", dt.date(2013, 7, 12), None),
    ("KRG5610", "004", dt.date(2013, 9, 17), dt.date(2014, 9, 12)),
]


def _acts(catalog):
    found = {}
    for service in catalog:
        for act in (service.source.legal, service.source.wording):
            if act is not None:
                found[act.key] = act
    return found


@pytest.mark.parametrize("key, seed, since, repealed", ACTS, ids=[a[0] for a in ACTS])
def test_each_act_has_the_validity_its_seed_states(catalog, seeds, key, seed, since, repealed):
    act = _acts(catalog)[key]
    assert act.date == act.in_force_from == since
    assert act.repealed_on == repealed
    assert (act.repealed_by is None) == (repealed is None)
    # the number and date as the seed writes them: «2012 жылғы 1 қарашадағы № 1392», or the short
    # form of an editorial note «12.07.2013 № 722»; seed 004 writes «N» for «№»
    text = re.sub(r"n(?=\d)", "№", seeds[next(n for n in seeds if n.startswith(seed))])
    long = normalise(f"{date_kk(act.date, KazakhCase.LOCATIVE)} № {act.number}")
    short = normalise(f"{act.date:%d.%m.%Y} № {act.number}")
    assert long in text or short in text, (key, long, short)
    if repealed is not None:
        number = act.repealed_by.kk.split("№ ", 1)[1].split()[0]
        assert number in act.repealed_by.ru and number in act.repealed_by.en
        head = text[:3000]  # the seed's header: «Күші жойылды - … 2014 жылғы 16 сәуірдегі № 358 қаулысымен»
        assert normalise(f"{date_kk(repealed, KazakhCase.LOCATIVE)} № {number}") in head
        assert normalise("Күші жойылды") in head
    if act.registered is not None:
        assert normalise(f"№ {act.registered.number} болып тіркелді") in text
        assert normalise(f"{act.registered.date.year} жылғы {act.registered.date.day} ") in text


def test_an_act_is_cited_from_its_date_until_the_day_it_was_repealed(catalog):
    decree = catalog.get("1392-11").source.legal
    assert decree.validity_on(dt.date(2012, 10, 31)) is Validity.NOT_YET_IN_FORCE
    assert decree.validity_on(dt.date(2012, 11, 1)) is Validity.IN_FORCE
    assert decree.validity_on(dt.date(2014, 4, 15)) is Validity.IN_FORCE
    assert decree.validity_on(dt.date(2014, 4, 16)) is Validity.REPEALED
    assert catalog.get("301-03").source.legal.validity_on(dt.date(2026, 11, 29)) is Validity.IN_FORCE
    assert catalog.get("S001-01").source.legal.validity_on(dt.date(2026, 11, 29)) is Validity.UNKNOWN


@pytest.mark.parametrize("code, day, problem", [
    ("301-03", dt.date(2026, 11, 19), None),
    ("301-03", dt.date(2020, 9, 30), "not yet in force on 2020-09-30"),
    ("1392-11", dt.date(2026, 11, 19), "repealed on 16 April 2014: Decree of the Government of the RK No 1392"),
    ("1392-11", dt.date(2013, 6, 1), None),
    # standards 1-4 are quoted in the wording of decree No 722 of 12 July 2013
    ("1392-01", dt.date(2013, 6, 1), "in the wording of Decree of the Government of the RK No 722 of 12 July 2013"),
    ("1392-01", dt.date(2013, 10, 1), None),
    ("KRG5610-01", dt.date(2014, 1, 10), None),
    ("KRG5610-01", dt.date(2014, 9, 12), "repealed on 12 September 2014: Resolution of the Akimat of Karaganda "
                                         "Oblast No 56/10 of 17 September 2013 was repealed by Resolution of the "
                                         "Akimat of Karaganda Oblast No 47/01 of 12 September 2014"),
    ("S001-01", dt.date(2026, 11, 19), "the seed gives no date, so it is never cited"),
])
def test_citation_problem_of_a_service_on_a_date(catalog, code, day, problem):
    service = catalog.get(code)
    found = service.citation_problem(day)
    if problem is None:
        assert found is None and service.grounds_in_force(day) == service.refusal_grounds
    else:
        assert found is not None and problem in found.message, found
        assert service.grounds_in_force(day) == ()


def test_every_service_names_an_act_with_a_stated_validity(catalog):
    for service in catalog:
        act = service.source.legal
        assert act is not None and act.en.isascii(), service.code
        assert act.entry_into_force, service.code
        if act.in_force_from is None:
            assert service.code.startswith("S001"), service.code  # the one seed without an act


@pytest.mark.parametrize(
    "change, message",
    [
        (_set(["acts", "1392", "repealed_by"], None), r"acts\.1392: give repealed_on and repealed_by together"),
        (_set(["acts", "301", "in_force_from"], "2020-09-01"), r"acts\.301\.in_force_from: must be a date"),
        (_set(["acts", "301", "in_force_from"], dt.date(2020, 9, 1)), r"not in force before its own date"),
        (_set(["acts", "1392", "repealed_on"], dt.date(2012, 1, 1)), r"repealed_on: must come after in_force_from"),
        (_set(["services", 15, "source", "wording"], "999"), r"'999' is not another key of `acts`"),
        (_set(["acts", "301", "number"], 301), r"acts\.301\.number: must be a string"),
    ],
)
def test_a_malformed_act_is_refused_with_the_place_and_the_reason(tmp_path, change, message):
    with pytest.raises(CatalogError, match=message):
        read_catalog(_broken_copy(tmp_path, change))
