"""The rendered documents, checked as a reader and an archivist would: text, fonts, PDF/A, QR."""
from __future__ import annotations

import io
import re
import subprocess
import zipfile
from decimal import Decimal

import pytest
from PIL import Image

from tests.conftest import KAZAKH_LETTERS, LANGS, TYPES, example, run

# a caption of each template's body, in Kazakh and in Russian
MARKERS = {
    "land_right_act": ("Жер учаскесінің кадастрлық нөмірі", "Кадастровый номер земельного участка"),
    "cadastral_information": ("Құқық түрі", "Вид права"),
    "address_certificate": ("Мекенжайдың тіркеу коды", "Регистрационный код адреса"),
    "cadastral_value_act": ("Жер учаскесінің пайдалану мақсаты", "Целевое использование земельного участка"),
    "motivated_refusal": ("ДӘЛЕЛДІ БАС ТАРТУ", "МОТИВИРОВАННЫЙ ОТКАЗ"),
}
COMBOS = [(t, lang) for t in TYPES for lang in LANGS]
pytestmark = pytest.mark.slow


def pdftext(path) -> str:
    out = run("pdftotext", "-layout", str(path), "-")
    assert out.returncode == 0, out.stderr
    # fold the no-break and narrow spaces Babel puts between digit groups (and «№ 1184»), and a
    # no-break hyphen should a PDF reader give it as such
    return out.stdout.decode("utf-8").replace("\u00a0", " ").replace("\u202f", " ").replace("\u2011", "-")


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("doc_type,lang", COMBOS)
def test_pdf_shows_values_and_kazakh_letters(rendered_all, doc_type, lang):
    r, pdf, _ = rendered_all[(doc_type, lang)]
    text = flat(pdftext(pdf))
    data = example(doc_type)["data"]
    if "kk" in lang:
        present = {c for c in KAZAKH_LETTERS if c in text.lower()}
        assert len(present) >= 7, f"Kazakh letters missing in text: {set(KAZAKH_LETTERS) - present}"
        assert "құжат" in text.lower()  # the equivalence sentence
    if "ru" in lang:
        assert "равнозначен документу на бумажном носителе" in text
    kk_mark, ru_mark = MARKERS[doc_type]
    if lang == "kk+ru":
        assert text.index(kk_mark) < text.index(ru_mark), "the Kazakh version must come first"
    else:
        assert (kk_mark in text, ru_mark in text) == (lang == "kk", lang == "ru")
    expected = {
        "land_right_act": [data.get("act_number"), "03-047-009-1234", "850314300122", "0,1617"],
        "cadastral_information": ["03-047-009-1234", "850314300122", "4 850 000,00"],
        "address_certificate": [data.get("rka"), "03-047-009-1234"],
        "cadastral_value_act": ["151140007895", "3 287 376,25"],
        "motivated_refusal": [data.get("application", {}).get("number"), data.get("applicant", {}).get("iin")],
    }[doc_type]
    for value in expected:
        assert value and value in text, f"{value!r} not in the {doc_type} {lang} PDF"


@pytest.mark.parametrize("doc_type,lang", COMBOS)
def test_pdf_is_pdfa2b_with_embedded_fonts(rendered_all, doc_type, lang):
    _, pdf, _ = rendered_all[(doc_type, lang)]
    raw = pdf.read_bytes()
    assert re.search(rb"pdfaid:part(=\"|>)2", raw), "no PDF/A part 2 in XMP"
    assert re.search(rb"pdfaid:conformance(=\"|>)B", raw), "no PDF/A conformance B in XMP"
    fonts = run("pdffonts", str(pdf)).stdout.decode().splitlines()[2:]
    assert fonts, "no fonts listed"
    for row in fonts:
        cols = row.split()
        # name type encoding emb sub uni object ID: 'emb' is the 5th column from the end
        assert cols[-5] == "yes", f"font not embedded: {row}"
        # Liberation Serif 2.x covers every Kazakh letter: no fallback font may appear
        assert "LiberationSerif" in cols[0], f"unexpected (fallback?) font: {row}"


@pytest.mark.parametrize("doc_type,lang", COMBOS)
def test_qr_on_every_page_decodes_to_verification_url(rendered_all, tmp_path, doc_type, lang):
    r, pdf, _ = rendered_all[(doc_type, lang)]
    assert r.verification_url == f"https://qujat.test/v/{r.token}"
    prefix = tmp_path / "page"
    assert run("pdftoppm", "-r", "150", "-gray", "-png", str(pdf), str(prefix)).returncode == 0
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages
    if lang == "kk+ru":
        assert len(pages) >= 2
    for page in pages:
        out = run("zbarimg", "--raw", "-q", str(page))
        codes = out.stdout.decode().split()
        assert codes == [r.verification_url], f"{page.name}: {codes}"
    # the code is printed as text too, in groups of four a person can type
    from docgen.tokens import format_token

    assert format_token(r.token) in flat(pdftext(pdf)).replace(" ", "")


@pytest.mark.parametrize("doc_type,lang", COMBOS)
def test_docx_is_a_sound_word_file(rendered_all, doc_type, lang):
    from docx import Document

    r, _, docx = rendered_all[(doc_type, lang)]
    with zipfile.ZipFile(docx) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert len(names) == len(set(names)), "duplicate parts (Word would ask to repair)"
        body = z.read("word/document.xml").decode()
    assert "{{" not in body and "{%" not in body, "unrendered template tags"
    doc = Document(io.BytesIO(r.docx))
    assert doc.sections[0].page_width.mm == pytest.approx(210, abs=0.5)
    assert "sha256:" in (doc.core_properties.keywords or "")
    assert len(r.templates) == len(lang.split("+"))
    for ref in r.templates:
        assert re.fullmatch(r"[0-9a-f]{64}", ref["sha256"]) and ref["version"]


def test_docx_opens_in_libreoffice(rendered_all, pool):
    """LibreOffice loads the kk+ru DOCX of every type (a load failure would raise)."""
    for t in TYPES:
        r, _, _ = rendered_all[(t, "kk+ru")]
        assert pool.convert(r.docx)[:5] == b"%PDF-"


def test_plot_plan_is_drawn(rendered_all, tmp_path):
    _, pdf, _ = rendered_all[("land_right_act", "ru")]
    prefix = tmp_path / "p"
    run("pdftoppm", "-r", "100", "-gray", "-png", "-f", "1", "-l", "1", str(pdf), str(prefix))
    page = Image.open(next(tmp_path.glob("p*.png"))).convert("L")
    w, h = page.size
    # the plan sits in the left half of the page, between the plot fields and the adjacency list
    region = page.crop((int(w * 0.1), int(h * 0.35), int(w * 0.55), int(h * 0.65)))
    dark = sum(region.histogram()[:128])
    assert dark > 0.01 * region.size[0] * region.size[1], f"plan region nearly blank ({dark} dark pixels)"
    # the plan is vector drawing with text: its scale caption stands once on the page, and each
    # side length (computed here) stands twice: on the plan and in the table of sides
    page1 = run("pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-").stdout.decode()
    assert flat(page1).count("Масштаб 1:") == 1, page1
    pts = example("land_right_act")["data"]["plan"]["points"]
    for a, b in zip(pts, pts[1:] + pts[:1]):
        d = f"{((a['x'] - b['x']) ** 2 + (a['y'] - b['y']) ** 2) ** 0.5:.2f}".replace(".", ",")
        assert flat(page1).count(d) >= 2, (a["name"], b["name"], d)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_coordinate_table_matches_input(rendered_all, lang):
    _, pdf, _ = rendered_all[("land_right_act", lang)]
    text = flat(pdftext(pdf))
    for p in example("land_right_act")["data"]["plan"]["points"]:
        x = f"{p['x']:,.2f}".replace(",", " ").replace(".", ",")
        y = f"{p['y']:,.2f}".replace(",", " ").replace(".", ",")
        assert re.search(rf"{p['name']} {re.escape(x)} {re.escape(y)}", text), (p, x, y)
    # the side lengths, computed here independently
    pts = example("land_right_act")["data"]["plan"]["points"]
    for a, b in zip(pts, pts[1:] + pts[:1]):
        d = ((a["x"] - b["x"]) ** 2 + (a["y"] - b["y"]) ** 2) ** 0.5
        assert f"{a['name']}–{b['name']} {d:.2f}".replace(".", ",") in text


def _expected_rows():
    rows = example("cadastral_value_act")["data"]["rows"]
    values = [(Decimal(r["area"]) * Decimal(r["base_rate"]) * Decimal(r["correction_coefficient"])).quantize(Decimal("0.01"))
              for r in rows]
    return values, sum(values)


def _grouped(d: Decimal) -> str:
    return f"{d:,.2f}".replace(",", " ").replace(".", ",")


@pytest.mark.parametrize("lang,words", [
    ("ru", "(три миллиона двести восемьдесят семь тысяч триста семьдесят шесть тенге 25 тиын)"),
    ("kk", "(үш миллион екі жүз сексен жеті мың үш жүз жетпіс алты теңге 25 тиын)"),
])
def test_cadastral_value_act_rows_total_and_words(rendered_all, lang, words):
    values, total = _expected_rows()
    assert total == Decimal("3287376.25")
    _, pdf, _ = rendered_all[("cadastral_value_act", lang)]
    text = flat(pdftext(pdf))
    for v in values:
        assert _grouped(v) in text
    assert _grouped(total) in text
    assert words in text


def test_sum_in_words_other_values():
    from docgen.fmt import money_in_words

    assert money_in_words(Decimal("1001.05"), "ru") == "Одна тысяча один тенге 05 тиын"
    assert money_in_words(Decimal("2000000"), "kk") == "Екі миллион теңге 00 тиын"
    assert money_in_words(Decimal("21.999"), "ru") == "Двадцать два тенге 00 тиын"


def test_dates_in_the_clerks_style():
    import datetime as dt

    from docgen.fmt import date_long

    assert date_long(dt.date(2026, 11, 21), "kk") == "2026 жылғы 21 қараша"
    assert date_long(dt.date(2026, 11, 21), "ru") == "21 ноября 2026 года"


def test_template_data_cannot_run_template_code(renderer, make_request):
    from docx import Document

    from docgen.request import parse_request

    nasty = "{{ 7*7 }} {% for x in range(3) %}x{% endfor %} <w:br/> & «кавычки»"
    raw = make_request("address_certificate", "ru")
    raw["data"]["address"]["street"]["ru"] = nasty
    r = renderer.render_docx(parse_request(raw))
    text = "\n".join(p.text for p in Document(io.BytesIO(r.docx)).paragraphs)
    assert nasty in text          # printed as it was given, as text
    assert "49" not in text and "xxx" not in text


def test_cli_render_writes_docx_and_pdf(tmp_path):
    import json
    import sys

    req = tmp_path / "req.json"
    req.write_text(json.dumps(example("address_certificate", "kk")), "utf-8")
    out = subprocess.run([sys.executable, "-m", "qujat", "render", str(req), "--out", str(tmp_path / "o"),
                          "--token", "7qkm-2xj4-oabc-ldef-ghjk-5npq-rsk4", "--name", "cert"],
                         capture_output=True, timeout=180)
    assert out.returncode == 0, out.stderr.decode()
    assert (tmp_path / "o" / "cert.docx").stat().st_size > 1000
    pdf = tmp_path / "o" / "cert.pdf"
    assert "/v/7QKM2XJ40ABC1DEFGHJK5NPQRSK4" in flat(pdftext(pdf))
    bad = subprocess.run([sys.executable, "-m", "qujat", "render", str(req), "--out", str(tmp_path / "b"),
                          "--token", "7QKM-2XJ4-0ABC-1DEF-GHJK-5NPQ-RSK5"], capture_output=True, timeout=60)
    assert bad.returncode == 2 and "--token" in bad.stderr.decode() and not (tmp_path / "b").exists()


def test_cli_render_invalid_exits_2_and_writes_nothing(tmp_path):
    import json
    import sys

    raw = example("land_right_act")
    raw["data"]["holder"]["iin"] = "850314300123"
    raw["data"]["land_plot"]["area_ha"] = "-1"
    req = tmp_path / "req.json"
    req.write_text(json.dumps(raw), "utf-8")
    out = subprocess.run([sys.executable, "-m", "qujat", "render", str(req), "--out", str(tmp_path / "o")],
                         capture_output=True, timeout=60)
    assert out.returncode == 2
    err = out.stderr.decode()
    assert "data.holder.iin" in err and "data.land_plot.area_ha" in err
    assert not (tmp_path / "o").exists()


def test_kill_worker_during_batch_of_renders_loses_nothing(renderer, pool, make_request):
    """A LibreOffice worker killed mid-batch: the pool replaces it and every render completes."""
    import os
    import signal
    import time
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from docgen.request import parse_request

    requests = [parse_request(make_request("cadastral_information", "ru")) for _ in range(10)]
    victim = pool.worker_pids()[0]
    with ThreadPoolExecutor(4) as ex:
        futures = [ex.submit(renderer.render, r) for r in requests]
        wait(futures, return_when=FIRST_COMPLETED)  # the batch is under way
        os.killpg(os.getpgid(victim), signal.SIGKILL)
        results = [f.result(timeout=300) for f in futures]
    assert len(results) == 10
    for r in results:
        assert r.pdf.startswith(b"%PDF-") and b"pdfaid" in r.pdf
    deadline = time.monotonic() + 30
    while victim in pool.worker_pids() or None in pool.worker_pids():
        assert time.monotonic() < deadline, f"the killed worker was not replaced: {pool.worker_pids()}"
        time.sleep(0.2)


def test_demo_writes_all_fifteen_combinations_and_signed_copies(tmp_path):
    """`qujat demo`: 5 types × kk, ru, kk+ru as DOCX + PDF, and a signed copy of each."""
    import os
    import sys

    env = {**os.environ, "QUJAT_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-m", "qujat", "demo", "--out", str(tmp_path / "out")],
                         capture_output=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr.decode()
    for t in TYPES:
        for lang in LANGS:
            stem = tmp_path / "out" / f"{t}_{lang.replace('+', '-')}"
            assert stem.with_suffix(".docx").stat().st_size > 5000
            assert stem.with_suffix(".pdf").read_bytes().startswith(b"%PDF-")
    signed = tmp_path / "out" / "land_right_act_kk-ru.signed.pdf"
    check = subprocess.run([sys.executable, "-m", "qujat", "verify", str(signed), "--offline",
                            "--trust", str(tmp_path / "data" / "pki" / "root.pem")], capture_output=True, timeout=120)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert "TOTAL_PASSED" in check.stdout.decode()


def test_a_call_may_name_its_own_public_base_url(tmp_path):
    """A regeneration renders with the base URL its batch recorded, whatever the process's: the
    call's ``base_url`` wins over the renderer's for the QR (zbarimg on the DOCX's picture) and
    the URL printed in the footer; without it the renderer's own is used."""
    from docgen.render import Renderer
    from docgen.request import parse_request

    renderer = Renderer(base_url="https://worker.example")
    request = parse_request(example("address_certificate", "kk"))
    token = "7QKM2XJ40ABC1DEFGHJK5NPQRSK4"
    for given, expected in (("https://qujat.example.kz/", "https://qujat.example.kz"),
                            (None, "https://worker.example")):
        r = renderer.render_docx(request, token=token, base_url=given)
        assert r.verification_url == f"{expected}/v/{r.token}"
        with zipfile.ZipFile(io.BytesIO(r.docx)) as z:
            xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("word/footer"))
            pngs = [n for n in z.namelist() if n.startswith("word/media/") and n.endswith(".png")]
            decoded = set()
            for n in pngs:
                path = tmp_path / n.replace("/", "_")
                path.write_bytes(z.read(n))
                out = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True, timeout=30)
                decoded.update(line for line in out.stdout.decode().splitlines() if line)
        assert decoded == {r.verification_url}
        assert expected.split("//")[1] in xml
        assert given is None or "worker.example" not in xml
