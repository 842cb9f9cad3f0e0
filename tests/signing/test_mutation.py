"""Random byte mutations of signed documents (seeded, so every run tests the same files).

Property: when any byte inside a signature's signed byte ranges differs from the signed
file at the same offset, the verdict is never TOTAL_PASSED; and whatever the mutation,
verification ends in a report or in one of the library's own errors, never another
exception. Mutations in the signature hole (/Contents) may go either way: the signed
bytes are then the same.
"""

from __future__ import annotations

import functools
import io
import random
import re

import pytest
from pdfs import tiny_pdf
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.errors import SigningPackageError
from signing.model import Indication
from signing.sign import sign_pdf
from signing.verify import verify_pdf

SEED = 20261129


@pytest.fixture(scope="module")
def single(dev_signer):
    return sign_pdf(tiny_pdf(pdfa=True, pages=2), dev_signer("enterprise-head"), certify=True)


@pytest.fixture(scope="module")
def double(single, dev_signer):
    return sign_pdf(single, dev_signer("authority-head"))


def _signed_ranges(pdf: bytes) -> list[tuple[int, int]]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    ranges = []
    for sig in reader.embedded_signatures:
        start1, len1, start2, len2 = (int(v) for v in sig.byte_range)
        ranges += [(start1, start1 + len1), (start2, start2 + len2)]
    return ranges


# where readers disagree most: dictionary keys of signatures, fields and trailers,
# cross-reference data and the end-of-file lines; half the mutations land near one
HOTSPOTS = (b"/ByteRange", b"/M (", b"/Contents", b"/V ", b"/FT", b"/Prev", b"/Size", b"/Root", b"xref",
            b"trailer", b"startxref", b"%%EOF", b" obj", b"/Annots", b"/Length")


@functools.lru_cache(maxsize=4)
def _hotspots(pdf: bytes) -> tuple[int, ...]:
    return tuple(sorted(m.start() for token in HOTSPOTS for m in re.finditer(re.escape(token), pdf)))


def _position(pdf: bytes, rng: random.Random) -> int:
    if rng.random() < 0.5:
        return rng.randrange(len(pdf))
    return min(len(pdf) - 1, max(0, rng.choice(_hotspots(pdf)) + rng.randrange(-8, 32)))


def _mutate(pdf: bytes, rng: random.Random) -> tuple[str, bytes]:
    pos = _position(pdf, rng)
    kind = rng.choice(["replace", "bitflip", "delete", "insert", "digit"])
    if kind == "replace":
        new = bytes([rng.choice([b for b in range(256) if b != pdf[pos]])])
        return f"replace@{pos}", pdf[:pos] + new + pdf[pos + 1:]
    if kind == "bitflip":
        return f"bitflip@{pos}", pdf[:pos] + bytes([pdf[pos] ^ (1 << rng.randrange(8))]) + pdf[pos + 1:]
    if kind == "delete":
        return f"delete@{pos}", pdf[:pos] + pdf[pos + 1:]
    if kind == "insert":
        return f"insert@{pos}", pdf[:pos] + bytes([rng.randrange(256)]) + pdf[pos:]
    # a digit: offsets, lengths, object numbers and the byte range are where parsers differ
    digits = [i for i in range(max(0, pos - 400), min(len(pdf), pos + 400)) if 0x30 <= pdf[i] <= 0x39]
    at = rng.choice(digits) if digits else pos
    new = bytes([rng.choice([d for d in b"0123456789" if d != pdf[at]])]) if digits else b"7"
    return f"digit@{at}", pdf[:at] + new + pdf[at + 1:]


def _signed_bytes_changed(original: bytes, mutated: bytes, ranges: list[tuple[int, int]]) -> bool:
    return any(original[a:b] != mutated[a:b] for a, b in ranges)


@pytest.mark.parametrize("which, cases", [("single", 300), ("double", 100)])
def test_random_mutations_never_pass_and_never_raise_unexpectedly(request, which, cases, dev_pki):
    original = request.getfixturevalue(which)
    ranges = _signed_ranges(original)
    assert verify_pdf(original, trust=[dev_pki.root_cert]).passed
    rng = random.Random(f"{SEED}-{which}")
    outcomes = {"failed": 0, "error": 0, "passed": 0, "signed bytes changed": 0}
    for _ in range(cases):
        label, mutated = _mutate(original, rng)
        outcomes["signed bytes changed"] += _signed_bytes_changed(original, mutated, ranges)
        try:
            report = verify_pdf(mutated, trust=[dev_pki.root_cert])
        except SigningPackageError:
            outcomes["error"] += 1  # NotAPdfError / InputLimitError: a clear error
            continue
        except Exception as exc:  # noqa: BLE001 - the property under test
            pytest.fail(f"{which} {label}: {type(exc).__name__}: {exc}")
        if report.indication is Indication.TOTAL_PASSED:
            assert not _signed_bytes_changed(original, mutated, ranges), f"{which} {label} passed: {report.to_json()}"
            outcomes["passed"] += 1
        else:
            outcomes["failed"] += 1
    # most mutations hit signed bytes, and some reached a report (not only parse errors)
    assert outcomes["signed bytes changed"] > cases // 2 and outcomes["failed"] > cases // 10, outcomes
