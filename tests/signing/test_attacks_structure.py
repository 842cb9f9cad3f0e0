"""Forged and hostile files of the PDF-Insecurity classes never pass verification.

Each forgery is first shown to work on poppler (what a reader of the document sees),
then given to the verifier: the verdict must not be TOTAL_PASSED. Hostile files that
only aim at the verifier (deep nesting, decompression bombs, thousands of revisions,
huge files) must end in a report or a clear error, within a time budget.
"""

from __future__ import annotations

import io
import time
import tracemalloc

import attacks_structure as A
import pytest
from pdfs import tiny_pdf
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from signing import pdfcheck
from signing.errors import NotAPdfError
from signing.model import Indication, SubIndication
from signing.pdfcheck import InputLimitError
from signing.sign import sign_pdf
from signing.verify import verify_pdf


@pytest.fixture(scope="module")
def signed(dev_signer):
    return sign_pdf(tiny_pdf(pdfa=True), dev_signer(), certify=True)


@pytest.fixture(scope="module")
def approved(dev_signer):
    """An approval (not certifying) signature: new signature fields may be added later."""
    return sign_pdf(tiny_pdf(pdfa=True), dev_signer())


@pytest.fixture(scope="module")
def rendered_signed(dev_signer):
    """The kk+ru land-right act rendered by LibreOffice, signed twice (certified, then approved)."""
    from docgen.convert import ConverterPool
    from docgen.examples import example_request
    from docgen.render import Renderer
    from docgen.request import parse_request

    pool = ConverterPool(1)
    try:
        rendered = Renderer(converter=pool, base_url="https://qujat.test").render(
            parse_request(example_request("land_right_act"))
        )
    finally:
        pool.close()
    first = sign_pdf(rendered.pdf, dev_signer("enterprise-head"), certify=True)
    return sign_pdf(first, dev_signer("authority-head"))


def _verify(pdf, dev_pki):
    return verify_pdf(pdf, trust=[dev_pki.root_cert], online=False)


def _assert_forgery_fails(report, note: str):
    assert report.signatures, "no signature was found at all"
    assert report.indication is Indication.TOTAL_FAILED, report.to_json()
    for sig in report.signatures:
        assert sig.indication is not Indication.TOTAL_PASSED
        assert sig.modified_after_signing is True
    notes = " | ".join(n for s in report.signatures for n in s.notes)
    assert note in notes, notes


def test_honest_files_still_pass(signed, approved, rendered_signed, dev_pki):
    for pdf in (signed, approved, rendered_signed):
        report = _verify(pdf, dev_pki)
        assert report.indication is Indication.TOTAL_PASSED, report.to_json()
        assert not any(s.modified_after_signing for s in report.signatures)


# --- 1. end-of-file marker differential ----------------------------------------------


@pytest.mark.parametrize(
    "eof_line",
    [b" %%EOF\n", b"\x00%%EOF\n", b"\t%%EOF", b"x%%EOF\n", b""],
    ids=["space", "nul", "tab", "letter", "missing"],
)
def test_update_hidden_behind_a_broken_eof_line_is_not_passed(signed, dev_pki, eof_line):
    forged = A.eof_marker_differential(signed, eof_line)
    assert A.FORGED_TEXT.decode() in A.poppler_text(forged)  # what a reader sees

    report = _verify(forged, dev_pki)

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_FAILED, report.to_json()
    assert sig.sub_indication is SubIndication.FORMAT_FAILURE
    assert sig.covers_whole_document is False and sig.modified_after_signing is True


@pytest.mark.slow
def test_eof_differential_on_a_rendered_document_is_not_passed(rendered_signed, dev_pki):
    forged = A.eof_marker_differential(rendered_signed)
    assert A.poppler_text(forged) != A.poppler_text(rendered_signed)

    assert _verify(forged, dev_pki).indication is Indication.TOTAL_FAILED


# --- 2. duplicate cross-reference entries ------------------------------------------


def test_object_listed_twice_in_one_xref_table_is_not_passed(signed, dev_pki):
    forged = A.duplicate_xref_entry(signed)
    assert A.FORGED_TEXT.decode() in A.poppler_text(forged)

    _assert_forgery_fails(_verify(forged, dev_pki), "is listed twice in the cross-reference table")


@pytest.mark.slow
def test_object_listed_twice_on_a_rendered_document_is_not_passed(rendered_signed, dev_pki):
    forged = A.duplicate_xref_entry(rendered_signed)
    assert A.poppler_text(forged) != A.poppler_text(rendered_signed)  # poppler takes the first entry

    _assert_forgery_fails(_verify(forged, dev_pki), "is listed twice")


def test_object_listed_twice_in_one_xref_stream_is_a_clear_error(signed, dev_pki):
    forged = A.duplicate_xref_entry(signed, xref="stream")
    assert A.FORGED_TEXT.decode() in A.poppler_text(forged)

    # pyHanko refuses the overlapping /Index itself; the error says what is wrong
    with pytest.raises(NotAPdfError, match="object [0-9]+ is listed twice in the cross-reference stream"):
        _verify(forged, dev_pki)


@pytest.mark.parametrize("xref", ["table", "stream", "stream-predicted"])
def test_harmless_update_is_read_alike_by_both_readers(approved, dev_pki, xref):
    extra = A.tail(approved).size
    update = A.append_update(approved, [(extra, A.plain_object(extra, b"(an orphan)"))], xref=xref)

    structure = pdfcheck.read_structure(update)

    assert structure.problems == []
    assert structure.revisions[-1].entries[extra] == ("n", 0, len(approved) + (not approved.endswith(b"\n")))
    assert _verify(update, dev_pki).indication is Indication.TOTAL_PASSED


def test_object_listed_twice_in_a_predicted_xref_stream_is_not_passed(signed, dev_pki):
    _, contents, font = A.first_page(signed)
    forged = A.stream_object(contents, A.forged_content(font))
    at = len(signed) + (not signed.endswith(b"\n"))
    entries = [(contents, at), (contents, A.object_offset(signed, contents))]
    hostile = A.append_update(signed, [(contents, forged)], entries=entries, xref="stream-predicted")

    with pytest.raises(NotAPdfError, match="listed twice in the cross-reference stream"):
        _verify(hostile, dev_pki)


def test_xref_entry_that_points_at_another_object_is_not_passed(signed, dev_pki):
    page, contents, _ = A.first_page(signed)
    # an update that lists the page's content object at the page's own offset
    forged = A.append_update(signed, [], entries=[(contents, A.object_offset(signed, page))])

    _assert_forgery_fails(_verify(forged, dev_pki), "does not point at that object")


def test_object_written_in_an_update_but_missing_from_its_xref_is_not_passed(signed, dev_pki):
    _, contents, font = A.first_page(signed)
    hidden = A.stream_object(contents, A.forged_content(font))  # a reader rebuilding the xref would use it
    extra = A.tail(signed).size
    forged = A.append_update(signed, [(contents, hidden), (extra, A.plain_object(extra, b"null"))],
                             unlisted=frozenset({contents}))

    _assert_forgery_fails(_verify(forged, dev_pki), "is not in its cross-reference section")


# --- 3. shadow attack through a reference to a missing object -----------------------


def test_object_defined_after_signing_for_a_dangling_reference_is_not_passed(dev_signer, dev_pki):
    prepared, missing = A.dangling_reference_pdf()
    signed = sign_pdf(prepared, dev_signer())
    # as signed, the reference draws nothing: that is what was signed, and it passes
    assert A.FORGED_TEXT.decode() not in A.poppler_text(signed)
    assert _verify(signed, dev_pki).indication is Indication.TOTAL_PASSED

    forged = A.define_dangling(signed, missing)
    assert A.FORGED_TEXT.decode() in A.poppler_text(forged)

    _assert_forgery_fails(_verify(forged, dev_pki), f"refers to object {missing} 0, which did not exist")


# --- 10. a visible overlay added after signing ---------------------------------------


def test_new_signature_field_drawing_over_the_page_is_modified_and_not_passed(approved, dev_pki):
    forged = A.overlay_field(approved)
    assert A.FORGED_TEXT.decode() in A.poppler_text(forged)

    _assert_forgery_fails(_verify(forged, dev_pki), "draws over page 1")


def test_small_overlay_over_one_word_is_not_passed(approved, dev_pki):
    forged = A.overlay_field(approved, rect=(70, 715, 120, 735), content=b"q 1 1 1 rg 0 0 50 20 re f Q")

    _assert_forgery_fails(_verify(forged, dev_pki), "can hide signed content")


@pytest.mark.parametrize("rect, content", [((100, 100, 100, 700), b"q 0 g 0 0 9 9 re f Q"), ((0, 0, 595, 842), b"")],
                         ids=["no-area", "draws-nothing"])
def test_new_field_that_cannot_hide_anything_still_passes(approved, dev_pki, rect, content):
    report = _verify(A.overlay_field(approved, rect=rect, content=content), dev_pki)

    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert report.signatures[0].modified_after_signing is False


def test_invisible_signature_field_added_by_pyhanko_still_passes(approved, dev_pki):
    w = IncrementalPdfFileWriter(io.BytesIO(approved), strict=False)
    append_signature_field(w, SigFieldSpec("Later"))
    out = io.BytesIO()
    w.write(out)

    assert _verify(out.getvalue(), dev_pki).indication is Indication.TOTAL_PASSED


# --- 8. hostile input for the parser -------------------------------------------------


@pytest.mark.parametrize("value, what", [(b"(a string)", "a string"), (b"42", "a number"),
                                         (b"99 0 R", "a missing object")], ids=["string", "integer", "dangling"])
def test_signature_field_whose_value_is_no_dictionary_is_a_clear_error(signed, dev_pki, value, what):
    hostile = A.signature_field_with_value(signed, value)

    with pytest.raises(NotAPdfError, match=f"signature field Hostile: its value is {what}, not a signature"):
        _verify(hostile, dev_pki)


def test_malformed_signing_date_ends_in_a_report(signed, dev_pki):
    at = signed.index(b"/M (") + 10  # a digit of the /M date in the signature dictionary
    hostile = signed[:at] + b"x" + signed[at + 1:]

    report = _verify(hostile, dev_pki)

    assert report.indication is Indication.TOTAL_FAILED
    assert report.signatures[0].signing_time is None


def test_deeply_nested_array_after_signing_ends_in_a_report(signed, dev_pki):
    hostile = A.deep_array_update(signed, depth=50_000)
    started = time.monotonic()

    report = _verify(hostile, dev_pki)

    assert time.monotonic() - started < 10
    assert report.indication is Indication.TOTAL_FAILED


def test_deeply_nested_trailer_is_a_clear_error(signed, dev_pki):
    hostile = A.append_update(signed, [])
    cut = hostile.rindex(b"trailer\n") + len(b"trailer\n")
    nested = hostile[:cut] + b"<< /Deep " + b"[" * 50_000 + b"]" * 50_000 + hostile[cut + 2:]

    with pytest.raises(InputLimitError, match="nested deeper than 256 levels"):
        _verify(nested, dev_pki)


def test_dss_decompression_bomb_ends_in_a_report_within_memory(signed, dev_pki):
    hostile = A.dss_bomb(signed, decoded_mb=1024)  # 1 GiB of zeros in ~1 KB, three times
    assert len(hostile) < len(signed) + 200_000
    tracemalloc.start()
    try:
        report = _verify(hostile, dev_pki)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 100 * 1024 * 1024
    assert report.signatures and report.fetches  # the DSS was dropped, with a note
    assert any("security store cannot be read" in f.reason for f in report.fetches)


# --- 9. cost: revisions, size, time ------------------------------------------------


def test_six_thousand_empty_revisions_verify_in_linear_time(signed, dev_pki):
    many = A.empty_revisions(signed, 6000)
    started = time.monotonic()

    report = _verify(many, dev_pki)

    assert time.monotonic() - started < 10  # was 100 s: pyHanko diffed every revision
    assert report.indication is Indication.TOTAL_PASSED  # they change nothing


def test_too_many_revisions_is_a_clear_error(signed, dev_pki):
    many = A.empty_revisions(signed, pdfcheck.DEFAULT_LIMITS.max_revisions + 1)
    started = time.monotonic()

    with pytest.raises(InputLimitError, match="more than 10,000 revisions"):
        _verify(many, dev_pki)
    assert time.monotonic() - started < 10


def test_too_many_changing_revisions_is_a_clear_error(signed, dev_pki):
    t = A.tail(signed)
    out, prev = bytearray(signed), t.startxref
    for i in range(pdfcheck.DEFAULT_LIMITS.max_changing_revisions + 1):
        num = t.size + i
        at = len(out)
        out += b"%d 0 obj\nnull\nendobj\n" % num
        xref = len(out)
        out += b"xref\n%d 1\n%010d 00000 n\r\ntrailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
            num, at, num + 1, t.root, prev, xref)
        prev = xref

    with pytest.raises(InputLimitError, match="revisions that change objects"):
        _verify(bytes(out), dev_pki)


def test_xref_stream_declaring_a_hundred_million_entries_is_a_clear_error(signed, dev_pki):
    t = A.tail(signed)
    num = t.size
    at = len(signed)
    declared = b" /Type /XRef /Size 100000001 /W [1 4 2] /Index [0 100000000] /Root %s /Prev %d" % (t.root, t.startxref)
    stream = A.stream_object(num, b"", declared)
    hostile = signed + stream + b"startxref\n%d\n%%%%EOF\n" % at
    started = time.monotonic()

    with pytest.raises(InputLimitError, match="more than 1,000,000 cross-reference entries"):
        _verify(hostile, dev_pki)
    assert time.monotonic() - started < 5  # pyHanko alone iterates over every declared entry


def test_file_over_the_size_cap_is_a_clear_error(signed, dev_pki):
    big = signed + b" " * (pdfcheck.DEFAULT_LIMITS.max_file_size + 1 - len(signed))
    with pytest.raises(InputLimitError, match="at most 52,428,800 are verified"):
        _verify(big, dev_pki)


def test_cli_refuses_a_100_mb_file_unread(signed, dev_pki, tmp_path, capsys):
    import argparse

    from signing.cli import register

    parser = argparse.ArgumentParser(prog="qujat")
    register(parser.add_subparsers(dest="command", required=True))
    path = tmp_path / "big.pdf"
    with path.open("wb") as f:
        f.write(signed)
        f.truncate(100 * 1024 * 1024)
    started = time.monotonic()

    args = parser.parse_args(["verify", str(path), "--trust", str(dev_pki.root_cert), "--offline"])
    rc = args.func(args)

    assert rc == 2
    assert time.monotonic() - started < 5
    assert "at most 52,428,800 are verified" in capsys.readouterr().err


def test_time_budget_ends_in_a_clear_error(signed, dev_pki, monkeypatch):
    monkeypatch.setattr(pdfcheck, "DEFAULT_LIMITS", pdfcheck.Limits(time_budget_s=0.0))

    with pytest.raises(InputLimitError, match="longer than its budget"):
        _verify(A.empty_revisions(signed, 3), dev_pki)
