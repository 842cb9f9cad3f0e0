"""Shared fixtures: valid example requests, one warm LibreOffice pool, the 15 rendered examples."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TYPES = ["land_right_act", "cadastral_information", "address_certificate", "cadastral_value_act", "motivated_refusal"]
LANGS = ["kk", "ru", "kk+ru"]
KAZAKH_LETTERS = "әғқңөұүһі"


def example(doc_type: str, language: str | None = None) -> dict:
    raw = json.loads((ROOT / "docgen" / "examples" / f"{doc_type}.json").read_text("utf-8"))
    if language:
        raw["language"] = language
    return raw


@pytest.fixture
def make_request():
    """A fresh deep copy of an example, for a test to change one thing."""
    return lambda doc_type, language=None: copy.deepcopy(example(doc_type, language))


def run(*cmd: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    assert shutil.which(cmd[0]), f"{cmd[0]} is not installed (make deps installs it)"
    return subprocess.run(cmd, input=input, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pool():
    from docgen.convert import ConverterPool

    with ConverterPool(2) as p:
        yield p


@pytest.fixture(scope="session")
def renderer(pool):
    from docgen.render import Renderer

    return Renderer(converter=pool, base_url="https://qujat.test")


@pytest.fixture(scope="session")
def rendered_all(renderer, tmp_path_factory):
    """All 15 combinations rendered once: {(type, lang): (Rendered, pdf_path, docx_path)}."""
    from docgen.request import parse_request

    out = tmp_path_factory.mktemp("rendered")
    result = {}
    for t in TYPES:
        for lang in LANGS:
            r = renderer.render(parse_request(example(t, lang)))
            stem = f"{t}_{lang.replace('+', '-')}"
            pdf, docx = out / f"{stem}.pdf", out / f"{stem}.docx"
            pdf.write_bytes(r.pdf)
            docx.write_bytes(r.docx)
            result[(t, lang)] = (r, pdf, docx)
    return result
