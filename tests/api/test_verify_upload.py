"""POST /verify: anyone uploads a PDF and gets the report of spec §4. An issued document passes;
every bad upload — empty, not a PDF, too large, truncated, tampered, deeply nested, a
decompression bomb — gets a clear 4xx or a report that does not pass, within 5 s, never a 500."""
from __future__ import annotations

import asyncio
import io
import threading
import time
import zlib

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.api.helpers import fresh

LIMIT_S = 5.0


@pytest.fixture(scope="module")
def issued_pdf(live) -> bytes:
    with live.client() as c:
        doc = c.post("/documents", json=fresh("cadastral_value_act", "kk")).json()
        return c.get(doc["links"]["pdf"]).content


def upload(live, data: bytes, name: str = "doc.pdf"):
    with live.client(None) as anonymous:               # public: no API key
        started = time.monotonic()
        r = anonymous.post("/verify", files={"file": (name, data, "application/pdf")})
        elapsed = time.monotonic() - started
    assert r.status_code < 500, r.text
    assert elapsed < LIMIT_S, f"{elapsed:.1f} s"
    return r


def refused_or_not_passed(r) -> None:
    if r.status_code == 200:
        assert r.json()["indication"] != "TOTAL_PASSED", r.text
    else:
        assert 400 <= r.status_code < 500 and r.json()["code"] and r.json()["message"], r.text


def _plain_pdf(catalog_extra: bytes) -> bytes:
    """A one-object PDF with a correct cross-reference table (the catalog carries ``catalog_extra``)."""
    head = b"%PDF-1.7\n"
    obj = b"1 0 obj\n<< /Type /Catalog " + catalog_extra + b" >>\nendobj\n"
    xref_at = len(head) + len(obj)
    xref = b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n" % len(head)
    return head + obj + xref + b"trailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at


def _with_bomb(pdf: bytes) -> bytes:
    """``pdf`` plus an incremental update whose new stream inflates 200 MiB of zeros."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    bomb = generic.StreamObject({generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
                                encoded_data=zlib.compress(b"\0" * (200 * 2**20), 9))
    ref = w.add_object(bomb)
    w.root[generic.NameObject("/Bomb")] = ref
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_an_issued_document_passes(live, issued_pdf):
    r = upload(live, issued_pdf)
    assert r.status_code == 200
    report = r.json()
    assert report["indication"] == "TOTAL_PASSED"
    assert [s["signer"]["common_name"] for s in report["signatures"]] == ["ЖАНДОСОВ АЙДАР", "ОМАРОВА ДИНАРА"]
    assert {"indication", "signatures"} <= set(report)
    assert {"field", "indication", "sub_indication", "intact", "covers_whole_document", "modified_after_signing",
            "trusted", "revoked", "signing_time", "timestamp_time", "level", "signer"} <= set(report["signatures"][0])


@pytest.mark.parametrize("what, code", [("empty", "empty_file"), ("text", "not_a_pdf"), ("png", "not_a_pdf")])
def test_what_is_not_a_pdf_is_422(live, what, code):
    data = {"empty": b"", "text": "Бұл PDF емес".encode(), "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100}[what]
    r = upload(live, data)
    assert r.status_code == 422 and r.json()["code"] == code and r.json()["problems"][0]["path"] == "file"


def test_a_file_over_the_limit_is_413(live):
    r = upload(live, b"%PDF-1.7\n" + b"0" * (21 * 2**20))
    assert r.status_code == 413 and r.json()["code"] == "content_too_large"


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_a_truncated_document_is_refused_or_fails(live, issued_pdf, cut):
    refused_or_not_passed(upload(live, issued_pdf[: int(len(issued_pdf) * cut)]))


def test_a_tampered_document_fails(live, issued_pdf):
    at = issued_pdf.index(b"stream", len(issued_pdf) // 4) + 200   # inside a content stream
    tampered = issued_pdf[:at] + bytes([issued_pdf[at] ^ 0x01]) + issued_pdf[at + 1:]
    r = upload(live, tampered)
    assert r.status_code == 200 and r.json()["indication"] == "TOTAL_FAILED", r.text


def test_bytes_after_the_last_signature_do_not_pass(live, issued_pdf):
    refused_or_not_passed(upload(live, issued_pdf + b"\n% appended after signing\n"))


def test_an_unsigned_pdf_is_indeterminate(live):
    r = upload(live, _plain_pdf(b""))
    assert r.status_code == 200 and r.json() == {**r.json(), "indication": "INDETERMINATE", "signatures": []}


def test_a_deeply_nested_pdf_is_answered_in_time(live):
    refused_or_not_passed(upload(live, _plain_pdf(b"/X " + b"[" * 100_000 + b"]" * 100_000)))


def test_a_decompression_bomb_is_answered_in_time(live, issued_pdf):
    refused_or_not_passed(upload(live, _with_bomb(issued_pdf)))


def test_an_upload_without_a_file_is_422(live):
    with live.client(None) as c:
        r = c.post("/verify", data={"note": "no file"})
        assert r.status_code == 422 and r.json()["problems"][0]["path"] == "file"
        r = c.post("/verify", json={"file": "JVBERi0="})
        assert 400 <= r.status_code < 500 and r.json()["code"]
        r = c.post("/verify", content=b"--xx\r\nbroken", headers={"Content-Type": "multipart/form-data; boundary=xx"})
        assert 400 <= r.status_code < 500 and r.json()["code"]


def test_verify_is_rate_limited_per_client_with_the_page_s_upload_budget(tmp_path):
    from qujat.web import PublicOptions, RateLimits
    from tests.api.conftest import serve

    options = PublicOptions(limits=RateLimits(compare="3/minute"))
    with serve(tmp_path / "data", pool_size=1, public_options=options) as limited, limited.client(None) as c:
        answers = [c.post("/verify", files={"file": ("a.pdf", b"not a pdf")}) for _ in range(4)]
        assert [r.status_code for r in answers] == [422, 422, 422, 429]
        assert answers[-1].json()["code"] == "too_many_requests" and int(answers[-1].headers["retry-after"]) >= 1
        r = c.post("/v/ABCDEFGHJKMNPQRSTVWXYZ0123/compare", files={"file": ("a.pdf", b"x")})
        assert r.status_code == 429                  # one budget for /verify and compare


def test_verifications_past_the_slots_are_503_and_an_abandoned_one_keeps_its_slot_till_it_ends():
    """A verification answered "too costly" after TIME_LIMIT goes on in its thread (threads cannot
    be cancelled) until the verifier's own budget stops it; it keeps its slot till then, so
    hostile uploads cannot pile up threads: past the slots, 503 with Retry-After at once."""
    from qujat.api.errors import ApiError
    from qujat.api.verify import BUDGET, TIME_LIMIT, Verifier

    assert TIME_LIMIT < BUDGET <= 2 * TIME_LIMIT
    verifier, release = Verifier(slots=1), threading.Event()

    async def scenario() -> None:
        stuck = asyncio.ensure_future(verifier.run(release.wait, 30))
        await asyncio.sleep(0.2)
        for _ in range(2):                               # while it runs, and after its caller gave up
            started = time.monotonic()
            with pytest.raises(ApiError) as busy:
                await verifier.run(time.sleep, 0)
            assert busy.value.status == 503 and busy.value.code == "busy"
            assert int(busy.value.headers["Retry-After"]) >= 1 and time.monotonic() - started < 0.5
            if not stuck.done():
                with pytest.raises(asyncio.TimeoutError):
                    await stuck
        release.set()                                    # its thread ends: the slot comes back
        deadline = time.monotonic() + 30                 # (when a loaded machine runs that thread)
        while True:
            try:
                assert await verifier.run(lambda: "done") == "done"
                break
            except ApiError as e:
                assert e.status == 503 and time.monotonic() < deadline, "the slot never came back"
                await asyncio.sleep(0.05)

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        verifier.close()


def test_a_cms_with_a_maze_of_same_named_cas_is_answered_at_once_and_fails(live):
    """Eight CA certificates that share one name, each issued by another's key, made the chain
    builder try every ordering (9 s of a core, the thread running on after the 4 s answer); the
    verifier now refuses such a certificate set before it builds a chain (signing/limits.py)."""
    import tests.signing.conftest  # noqa: F401 - puts tests/signing on sys.path (attacks_crypto, revpki)
    from attacks_crypto import DOCUMENT_SIGNING, loop_of_cas, sign_with
    from pdfs import tiny_pdf

    holder, cas = loop_of_cas(8)
    started = time.process_time()
    r = upload(live, sign_with(tiny_pdf(), holder.issue("ТЕСТОВ ТЕСТ", eku=[DOCUMENT_SIGNING]), cas))
    assert r.status_code == 200, r.text
    [signature] = r.json()["signatures"]
    assert r.json()["indication"] == "TOTAL_FAILED" and signature["sub_indication"] == "FORMAT_FAILURE"
    assert time.process_time() - started < 3.0
