"""Wording a clerk would sign, read in the rendered PDFs (pdftotext), not in the templates.

Each test renders the real thing (the examples, or an example with one thing changed) through the
session's LibreOffice pool and reads what a citizen reads: the text, where it stands on the page,
the PDF's Title and Author. The citation rule (a refusal cites only what was in force on its date)
is checked here end to end: refused with the field and the repeal date, rendered for a 2013 record,
rendered with grounds the request brings itself.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from docgen.catalog import load_catalog
from docgen.request import parse_request
from tests.conftest import LANGS, TYPES, example, run

pytestmark = pytest.mark.slow

TODAY = dt.date(2026, 11, 29)
XHTML = "{http://www.w3.org/1999/xhtml}"


# --- reading a PDF -------------------------------------------------------------------------------

def _pdf_path(pdf, tmp_path) -> Path:
    if isinstance(pdf, Path):
        return pdf
    path = tmp_path / f"doc{len(list(tmp_path.glob('doc*.pdf')))}.pdf"
    path.write_bytes(pdf)
    return path


def _fold(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2011", "-")


def layout(pdf, tmp_path) -> str:
    out = run("pdftotext", "-layout", str(_pdf_path(pdf, tmp_path)), "-")
    assert out.returncode == 0, out.stderr
    return _fold(out.stdout.decode())


def flat(pdf, tmp_path) -> str:
    return re.sub(r"\s+", " ", layout(pdf, tmp_path))


def words(pdf, tmp_path, page: int = 1) -> list[tuple[str, float, float, float, float]]:
    """(text, xMin, yMin, xMax, yMax) of every word on a page, in points."""
    out = run("pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(_pdf_path(pdf, tmp_path)), "-")
    root = etree.fromstring(out.stdout)
    return [(_fold(w.text or ""), *(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")))
            for w in root.iter(f"{XHTML}word")]


def lines(pdf, tmp_path, page: int = 1) -> list[tuple[str, float, float, float, float]]:
    """(text, xMin, yMin, xMax, yMax) of every text line on a page, top to bottom."""
    out = run("pdftotext", "-bbox-layout", "-f", str(page), "-l", str(page), str(_pdf_path(pdf, tmp_path)), "-")
    root = etree.fromstring(out.stdout)
    found = []
    for line in root.iter(f"{XHTML}line"):
        text = " ".join(_fold(w.text or "") for w in line.iter(f"{XHTML}word"))
        found.append((text, *(float(line.get(k)) for k in ("xMin", "yMin", "xMax", "yMax"))))
    return sorted(found, key=lambda t: (round(t[2]), t[1]))


def info(pdf, tmp_path) -> dict[str, str]:
    out = run("pdfinfo", str(_pdf_path(pdf, tmp_path))).stdout.decode()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def render(renderer, raw: dict, today: dt.date = TODAY) -> bytes:
    return renderer.render(parse_request(raw, today=today), today=today).pdf


# --- 1. the land-right act -----------------------------------------------------------------------

def _title_of_seed_002(service_code: str, lease_kind: str = "") -> str:
    """The act's Kazakh title from the service name of decree No 1392 (seed 002), word order kept."""
    name = load_catalog().get(service_code).name.kk
    title = name.replace("құқығына актілерді ресімдеу және беру", "құқығын беретін акт")
    return title.replace("(ұзақ мерзімді, қысқа мерзімді)", f"({lease_kind})")


def test_lease_act_title_follows_seed_002(rendered_all, tmp_path):
    _, pdf, _ = rendered_all[("land_right_act", "kk")]
    text = flat(pdf, tmp_path)
    assert "УАҚЫТША ӨТЕУЛІ (ҰЗАҚ МЕРЗІМДІ) ЖЕР ПАЙДАЛАНУ (ЖАЛДАУ) ҚҰҚЫҒЫН БЕРЕТІН АКТ" in text
    assert _title_of_seed_002("1392-03", "ұзақ мерзімді").upper() in text
    assert "ЖАЛҒА АЛУ" not in text and "УАҚЫТША (ҰЗАҚ" not in text
    _, pdf_ru, _ = rendered_all[("land_right_act", "ru")]
    assert "АКТ НА ПРАВО ВРЕМЕННОГО ВОЗМЕЗДНОГО (ДОЛГОСРОЧНОГО) ЗЕМЛЕПОЛЬЗОВАНИЯ (АРЕНДЫ)" in flat(pdf_ru, tmp_path)


@pytest.mark.parametrize("right, service, term", [
    ("temporary_paid_land_use", "1392-03", {"start": "2026-10-01", "end": "2029-09-30"}),
    ("private_ownership", "1392-01", None),
    ("permanent_land_use", "1392-02", None),
    ("temporary_free_land_use", "1392-04", {"start": "2026-10-01", "end": "2031-09-30"}),
])
def test_every_act_title_is_the_seed_002_name_of_its_right(renderer, make_request, tmp_path, right, service, term):
    raw = make_request("land_right_act", "kk")
    raw["data"]["right_kind"] = right
    raw["data"].pop("term")
    if term:
        raw["data"]["term"] = term
    pdf = render(renderer, raw)
    title = _title_of_seed_002(service, "қысқа мерзімді")  # a three-year lease is short-term
    assert title.upper() in flat(pdf, tmp_path)
    assert info(pdf, tmp_path)["Title"] == title  # the PDF's Title: the real title, not upper-cased


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_north_arrow_reads_s_in_both_languages(rendered_all, tmp_path, lang):
    _, pdf, _ = rendered_all[("land_right_act", lang)]
    tokens = layout(pdf, tmp_path).split()
    assert "С" in tokens  # Солтүстік / Север
    assert "Т" not in tokens


# --- 2. cadastral information --------------------------------------------------------------------

def test_cadastral_information_as_of_and_request_number(rendered_all, tmp_path):
    kk = flat(rendered_all[("cadastral_information", "kk")][1], tmp_path)
    assert "Мәліметтер 2026 жылғы 19 қарашадағы жағдай бойынша" in kk
    assert "берілген күнгі" not in kk
    assert "Сұраудың нөмірі: KZ45RVV00123456" in kk and "Сұраныс" not in kk
    ru = flat(rendered_all[("cadastral_information", "ru")][1], tmp_path)
    assert "Сведения по состоянию на 19 ноября 2026 года" in ru
    assert "по состоянию на:" not in ru


# --- 3. the cadastral value act ------------------------------------------------------------------

def test_cadastral_value_act_names_the_applicant_in_the_right_case(rendered_all, tmp_path):
    ru = flat(rendered_all[("cadastral_value_act", "ru")][1], tmp_path)
    assert ("1. Акт составлен в соответствии с заявлением юридического лица – товарищества с ограниченной "
            "ответственностью «Жерұйық Агро» (БИН 151140007895) в связи с оценкой земельного участка") in ru
    assert "(наименование юридического лица)" not in ru
    kk = flat(rendered_all[("cadastral_value_act", "kk")][1], tmp_path)
    assert ("1. Акті заңды тұлға – «Жерұйық Агро» жауапкершілігі шектеулі серіктестігінің (БСН 151140007895) "
            "жеке меншікке сатып алу мақсатында жер учаскесін бағалауға байланысты өтінімі негізінде жасалды.") in kk
    assert "(заңды тұлғаның атауы)" not in kk


def test_cadastral_value_act_person_applicant(renderer, make_request, tmp_path):
    raw = make_request("cadastral_value_act", "kk+ru")
    raw["data"]["applicant"] = {"full_name": "Оспанова Гүлнәр Мұратқызы", "iin": "880512400349"}
    text = flat(render(renderer, raw), tmp_path)
    assert "1. Акті азаматша Оспанова Гүлнәр Мұратқызының (ЖСН 880512400349) жеке меншікке" in text
    assert "заявлением физического лица (заявитель – Оспанова Гүлнәр Мұратқызы, ИИН 880512400349)" in text


@pytest.mark.parametrize("lang, sentence", [
    ("ru", "составляет 3 287 376,25 тенге (три миллиона двести восемьдесят семь тысяч триста семьдесят шесть "
           "тенге 25 тиын)."),
    ("kk", "құны 3 287 376,25 теңге (үш миллион екі жүз сексен жеті мың үш жүз жетпіс алты теңге 25 тиын) құрайды."),
])
def test_cadastral_value_sum_in_figures_and_words(rendered_all, tmp_path, lang, sentence):
    text = flat(rendered_all[("cadastral_value_act", lang)][1], tmp_path)
    assert sentence in text
    assert "составляет:" not in text


@pytest.mark.parametrize("lang, first, last", [("kk", "Суармалы", "Барлығы"), ("ru", "Орошаемая", "Итого")])
def test_cadastral_value_table_numbers_right_aligned_with_fixed_decimals(rendered_all, tmp_path, lang, first, last):
    page = words(rendered_all[("cadastral_value_act", lang)][1], tmp_path)
    top = next(w for w in page if w[0] == first)[2] - 1
    bottom = next(w for w in page if w[0] == last)[4] + 1
    table = [w for w in page if top <= w[2] and w[4] <= bottom]
    columns = {  # the last digit group of each figure in the column, rows then the total
        "area": ["12,5000", "3,2000", "4,0500", "19,7500"],
        "base_rate": ["000,00", "000,00", "500,00"],
        "coefficient": ["1,15", "0,90", "1,05"],
        "value": ["625,00", "080,00", "671,25", "376,25"],
    }
    for name, cells in columns.items():
        found = [w for w in table if w[0] in cells]
        assert sorted(w[0] for w in found) == sorted(cells), (name, [w[0] for w in table])
        right_edges = [w[3] for w in found]
        assert max(right_edges) - min(right_edges) < 1.0, (name, right_edges)  # right-aligned


@pytest.mark.parametrize("lang, caption, name, seal", [
    ("ru", "руководителя)", "Сейітұлы", "М.П."),
    ("kk", "аты)", "Сейітұлы", "М.О."),
])
def test_cadastral_value_act_captions_stand_under_the_name(rendered_all, tmp_path, lang, caption, name, seal):
    page = words(rendered_all[("cadastral_value_act", lang)][1], tmp_path)
    name_word = next(w for w in page if w[0] == name)
    seal_word = next(w for w in page if w[0] == seal)
    under = [w for w in page if w[0] == caption and w[2] > name_word[2]]
    cap = min(under, key=lambda w: w[2])  # the first caption below the head's name
    cap_line = [w for w in page if abs(w[2] - cap[2]) < 1]
    assert abs(cap[3] - name_word[3]) < 2  # right edge under the name's right edge
    assert min(w[1] for w in cap_line) > seal_word[3]  # entirely to the right of the seal place
    assert cap[2] - name_word[4] < 6  # right below it


# --- 4. the motivated refusal --------------------------------------------------------------------

def test_refusal_appeal_sentences(rendered_all, tmp_path):
    ru = flat(rendered_all[("motivated_refusal", "ru")][1], tmp_path)
    assert ("настоящее решение может быть обжаловано в административном (досудебном) порядке путем подачи "
            "жалобы услугодателю, оказавшему государственную услугу (рассматривается в течение пяти рабочих дней "
            "со дня ее регистрации), либо в уполномоченный орган по оценке и контролю за качеством оказания "
            "государственных услуг (рассматривается в течение пятнадцати рабочих дней со дня ее регистрации). "
            "Обжалование в суде допускается после обжалования в досудебном порядке.") in ru
    assert "порядке: услугодателю" not in ru
    kk = flat(rendered_all[("motivated_refusal", "kk")][1], tmp_path)
    assert "көрсетілетін қызметті берушіге (шағым тіркелген күнінен бастап бес жұмыс күні ішінде қаралады)" in kk
    assert "уәкілетті органға (шағым тіркелген күнінен бастап он бес жұмыс күні ішінде қаралады) шағым жасалуы мүмкін." in kk
    assert "ол шағымды" not in kk and "қарайды" not in kk


def test_refusal_dates_in_sentences(rendered_all, tmp_path):
    kk = flat(rendered_all[("motivated_refusal", "kk")][1], tmp_path)
    assert "Сіздің 2026 жылғы 12 қарашадағы № KZ12RVV00457812 өтінішіңізді" in kk
    ru = flat(rendered_all[("motivated_refusal", "ru")][1], tmp_path)
    assert "Рассмотрев Ваше заявление от 12 ноября 2026 года № KZ12RVV00457812" in ru


def test_refusal_provider_in_lower_case_inside_the_sentence(renderer, make_request, tmp_path):
    raw = make_request("motivated_refusal", "kk+ru")
    raw["data"]["provider"] = example("land_right_act")["data"]["issuer"]  # «Филиал НАО …»
    text = flat(render(renderer, raw), tmp_path)
    assert ("«Утверждение землеустроительных проектов по формированию земельных участков», филиал НАО "
            "«Государственная корпорация «Правительство для граждан» по Алматинской области отказывает") in text
    assert ", Филиал" not in text
    assert text.count("Филиал НАО") == 1  # the issuer's heading, where it begins a line


@pytest.mark.parametrize("lang, first, second", [
    ("kk", "1) көрсетілетін қызметті алушының мемлекеттік", "2) көрсетілетін қызметті алушының және (немесе)"),
    ("ru", "1) установление недостоверности документов", "2) несоответствие услугополучателя"),
])
def test_refusal_grounds_numbered_and_justified(renderer, make_request, tmp_path, lang, first, second):
    raw = make_request("motivated_refusal", lang)
    raw["data"]["grounds"].append({"code": "301-03.2", "explanation": {
        "kk": "Жоба жер учаскесін қалыптастыру талаптарына сәйкес келмейді.",
        "ru": "Проект не соответствует требованиям к формированию земельного участка."}})
    pdf = render(renderer, raw)
    text = layout(pdf, tmp_path)
    for start in (first, second):  # each ground opens its own line: «1) …», «2) …»
        assert re.search(rf"^\s*{re.escape(start)}", text, re.M), start
    # one alignment throughout the body: every line of a paragraph but its last reaches the right
    # margin (a left-aligned paragraph would end its lines ragged)
    pages = int(info(pdf, tmp_path)["Pages"])
    body = []
    for page in range(1, pages + 1):
        page_lines = lines(pdf, tmp_path, page)
        top = next((i for i, ln in enumerate(page_lines) if ln[0].startswith(("Сіздің", "Рассмотрев"))), 0)
        bottom = next(i for i, ln in enumerate(page_lines)
                      if ln[0].startswith(("Бөлім басшысы", "Руководитель отдела", "Құжаттың түпнұсқалығын")))
        body.append(page_lines[top:bottom])
    pitch = min(b[2] - a[2] for part in body for a, b in zip(part, part[1:]))
    right = max(ln[3] for part in body for ln in part)
    checked = 0
    for part in body:
        for a, b in zip(part, part[1:]):
            if b[2] - a[2] < pitch + 1:  # the next line belongs to the same paragraph
                assert right - a[3] < 1.5, (a[0], a[3], right)
                checked += 1
    assert checked >= 10


def test_identifiers_and_numbers_never_break_across_lines(renderer, make_request, tmp_path):
    raw = make_request("motivated_refusal", "kk+ru")
    # sweep: the identifiers stand at every position of a line somewhere in these paragraphs
    grounds = []
    for code, reps in (("301-03.1", range(0, 20)), ("301-03.2", range(20, 40))):
        kk = " ".join(f"{'ә' * (n % 9 + 1)} 03-047-009-1234 учаскесі, № 1184 қаулы" for n in reps)
        ru = " ".join(f"{'ы' * (n % 9 + 1)} 03-047-009-1234 участок, № 1184 постановление" for n in reps)
        grounds.append({"code": code, "explanation": {"kk": kk, "ru": ru}})
    raw["data"]["grounds"] = grounds
    pdf = render(renderer, raw)
    text = layout(pdf, tmp_path)
    for line in text.splitlines():
        line = line.rstrip()
        assert not re.search(r"\d-$", line) and not line.endswith("№"), line
    assert flat(pdf, tmp_path).count("03-047-009-1234") == 80  # each whole: 40 in kk, 40 in ru
    assert flat(pdf, tmp_path).count("№ 1184") == 80


@pytest.mark.parametrize("doc_type,lang", [(t, lang) for t in TYPES for lang in LANGS])
def test_examples_keep_numbers_whole_and_use_e_for_yo(rendered_all, tmp_path, doc_type, lang):
    text = layout(rendered_all[(doc_type, lang)][1], tmp_path)
    for line in text.splitlines():
        line = line.rstrip()
        assert not re.search(r"\d-$", line) and not line.endswith("№"), line
    assert "ё" not in text.lower()  # the legal texts of the RK write «е»


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_sources_of_russian_text_use_e_for_yo():
    """The texts the documents print (labels, catalog, examples, templates), comments aside."""
    import zipfile

    import yaml

    root = Path(__file__).resolve().parents[1]
    data = [yaml.safe_load((root / "docgen" / name).read_text("utf-8"))
            for name in ("labels.yaml", "catalog/services.yaml")]
    data += [json.loads(p.read_text("utf-8")) for p in sorted((root / "docgen" / "examples").glob("*.json"))]
    data += [zipfile.ZipFile(t).read("word/document.xml").decode() for t in sorted((root / "templates" / "ru").glob("*.docx"))]
    for text in (t for d in data for t in _strings(d)):
        assert "ё" not in text.lower(), text


# --- PDF metadata: the real title and the issuing body ---------------------------------------------

EXPECTED_META = {
    ("land_right_act", "kk"): ("Уақытша өтеулі (ұзақ мерзімді) жер пайдалану (жалдау) құқығын беретін акт",
                               "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы» КЕАҚ Алматы облысы бойынша филиалы"),
    ("land_right_act", "ru"): ("Акт на право временного возмездного (долгосрочного) землепользования (аренды)",
                               "Филиал НАО «Государственная корпорация «Правительство для граждан» по Алматинской области"),
    ("cadastral_information", "kk"): ("Жер учаскесіне кадастрлық ақпарат",
                                      "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы» КЕАҚ Алматы облысы бойынша филиалы"),
    ("cadastral_information", "ru"): ("Кадастровая информация на земельный участок",
                                      "Филиал НАО «Государственная корпорация «Правительство для граждан» по Алматинской области"),
    ("address_certificate", "kk"): ("Жылжымайтын мүлік объектісінің мекенжайын анықтау туралы анықтама",
                                    "Қарасай ауданының сәулет және қала құрылысы бөлімі"),
    ("address_certificate", "ru"): ("Справка об определении адреса объекта недвижимости",
                                    "Отдел архитектуры и градостроительства Карасайского района"),
    ("cadastral_value_act", "kk"): ("Жер учаскесінің кадастрлық (бағалау) құнын айқындау актісі",
                                    "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы» КЕАҚ Алматы облысы бойынша филиалы"),
    ("cadastral_value_act", "ru"): ("Акт определения кадастровой (оценочной) стоимости земельного участка",
                                    "Филиал НАО «Государственная корпорация «Правительство для граждан» по Алматинской области"),
    ("motivated_refusal", "kk"): ("Мемлекеттік қызмет көрсетуден дәлелді бас тарту",
                                  "«Қарасай ауданының жер қатынастары бөлімі» мемлекеттік мекемесі"),
    ("motivated_refusal", "ru"): ("Мотивированный отказ в оказании государственной услуги",
                                  "Государственное учреждение «Отдел земельных отношений Карасайского района»"),
}


@pytest.mark.parametrize("doc_type,lang", [(t, lang) for t in TYPES for lang in LANGS])
def test_pdf_title_and_author_are_the_documents_own(rendered_all, tmp_path, doc_type, lang):
    meta = info(rendered_all[(doc_type, lang)][1], tmp_path)
    # a kk+ru file is the Kazakh document first: its Title and Author are the Kazakh ones
    title, author = EXPECTED_META[(doc_type, lang.split("+")[0])]
    assert meta["Title"] == title
    assert meta["Author"] == author


# --- the citation rule, end to end ---------------------------------------------------------------

def _refusal_of_decree_1392(issued_on: str, applied_on: str, language: str = "kk+ru") -> dict:
    raw = example("motivated_refusal", language)
    raw["data"].update(service="1392-11", issued_on=issued_on, application={"number": "1204", "date": applied_on})
    raw["data"]["grounds"] = [{"code": "1392-11.1", "explanation": {
        "kk": "Өтінішке жер учаскесінің жоспары қоса берілмеген.",
        "ru": "К заявлению не приложен план земельного участка."}}]
    return raw


def test_cli_refuses_a_refusal_citing_a_repealed_decree(tmp_path):
    req = tmp_path / "req.json"
    req.write_text(json.dumps(_refusal_of_decree_1392("2026-11-19", "2026-11-12")), "utf-8")
    out = subprocess.run([sys.executable, "-m", "qujat", "render", str(req), "--out", str(tmp_path / "o")],
                         capture_output=True, timeout=120)
    assert out.returncode == 2
    err = out.stderr.decode()
    assert "data.grounds.0.code: repealed on 16 April 2014" in err
    assert not (tmp_path / "o").exists()


def test_a_2013_record_renders_with_decree_1392_and_no_later_law(renderer, tmp_path):
    pdf = render(renderer, _refusal_of_decree_1392("2013-06-01", "2013-05-28"))
    text = flat(pdf, tmp_path)
    service = load_catalog().get("1392-11")
    ground = service.ground("1392-11.1")
    for lang in ("kk", "ru"):
        assert re.sub(r"\s+", " ", ground.basis.get(lang)) in text
    assert "Сіздің 2013 жылғы 28 мамырдағы № 1204 өтінішіңізді" in text
    assert "2013 жылғы 1 маусым" in text and "1 июня 2013 года" in text
    # the Administrative Procedural and Process-Related Code (in force 1 July 2021) is not cited
    assert "91-бабына" not in text and "статьей 91" not in text
    assert "Осы шешімге Қазақстан Республикасының заңнамасында белгіленген тәртіппен шағым жасалуы мүмкін." in text
    assert "Настоящее решение может быть обжаловано в порядке, установленном законодательством" in text


def test_a_refusal_with_the_requests_own_ground_renders_in_both_languages(renderer, make_request, tmp_path):
    raw = make_request("motivated_refusal", "kk+ru")
    raw["data"]["service"] = "301-06"  # order No 301, annex 6: in force, its grounds not in the seed
    raw["data"]["grounds"] = [{
        "text": {"kk": "көрсетілетін қызметті алушының ұсынған құжаттарының дұрыс еместігінің анықталуы",
                 "ru": "установление недостоверности документов, представленных услугополучателем"},
        "legal_basis": {"kk": "«Жер учаскесіне актілерді дайындау және беру» мемлекеттік қызметін көрсету "
                              "қағидаларының 9-тармағының 1) тармақшасы",
                        "ru": "подпункт 1) пункта 9 Правил оказания государственной услуги «Изготовление и "
                              "выдача актов на земельный участок»"},
        "explanation": {"kk": "Ұсынылған шарттың көшірмесі тіркелген шартқа сәйкес келмейді.",
                        "ru": "Представленная копия договора не соответствует зарегистрированному договору."},
    }]
    text = flat(render(renderer, raw), tmp_path)
    assert "1) көрсетілетін қызметті алушының ұсынған құжаттарының дұрыс еместігінің анықталуы" in text
    assert "Құқықтық негіз: «Жер учаскесіне актілерді дайындау және беру» мемлекеттік қызметін" in text
    assert "1) установление недостоверности документов, представленных услугополучателем" in text
    assert "Правовое основание: подпункт 1) пункта 9 Правил оказания государственной услуги «Изготовление" in text
    assert "«Жер учаскесіне актілерді дайындау және беру» мемлекеттік қызметін көрсету мәселесі бойынша" in text


# --- consistent examples: one plot, one case ------------------------------------------------------

# codes of oblasts and cities of republican significance that open a cadastral number (the list
# approved with Government decree No 958 of 20 September 2003): those of the examples' places
REGION_CODES = {"Алматы облысы": "03", "Алматы қаласы": "20"}


def test_the_examples_describe_one_plot_and_one_case():
    act, info_, cert, refusal = (example(t)["data"] for t in
                                 ("land_right_act", "cadastral_information", "address_certificate", "motivated_refusal"))
    number = "03-047-009-1234"
    assert act["land_plot"]["cadastral_number"].replace(":", "-") == number
    assert info_["land_plot"]["cadastral_number"] == cert["cadastral_number"] == number
    for key in ("area_ha", "address", "land_category", "intended_use", "restrictions", "divisible"):
        assert act["land_plot"][key] == info_["land_plot"][key], key
    assert act["land_plot"]["restrictions"]  # the encumbrance stands in both
    assert act["right_kind"] == info_["right_kind"] and act["term"] == info_["term"]
    assert [act["holder"]] == info_["holders"]
    # the cadastral number opens with the code of the address's region
    region = act["land_plot"]["address"]["kk"].split(",")[0]
    assert number.startswith(REGION_CODES[region] + "-")
    assert cert["address"]["region"]["kk"] == region
    # the decision granting the lease is among the title documents, and the refusal speaks of it
    decision = act["basis"]
    assert any(d["number"] == decision["number"] and d["date"] == decision["date"] for d in info_["title_documents"])
    assert number in refusal["grounds"][0]["explanation"]["kk"] and number in refusal["grounds"][0]["explanation"]["ru"]
    assert f"№ {decision['number']}" in refusal["grounds"][0]["explanation"]["ru"]
    # in time order: decision, lease term, address change, cadastral information, act
    assert decision["date"] <= act["term"]["start"] <= cert["basis"]["date"] <= info_["as_of"] <= act["issued_on"]
