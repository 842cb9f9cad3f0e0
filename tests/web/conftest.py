"""The public page's tests: one real server (`qujat.api.create_app` on uvicorn, loopback, one
LibreOffice worker, the dev PKI's keys, SQLite) and documents issued through `qujat.service`.

Unit tests talk to a small app that mounts the page's router with generous rate limits over that
server's runtime (`page_client`); the browser test drives the real server."""
from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qujat.service import Caller, issue
from qujat.web import PublicOptions, RateLimits, make_public_router
from tests.api.conftest import serve
from tests.conftest import example

#: the IIN of the example requests' citizen (holder, applicant) and what the page shows of it
CITIZEN_IIN = "850314300122"
CITIZEN_IIN_MASKED = "850314******"
CITIZEN_NAME_MASKED = "Сәрсенбаев Н. Қ."
REFUSED_IIN = "781205300345"          # the motivated refusal's applicant


@dataclass(frozen=True)
class Issued:
    record: object
    pdf: bytes

    @property
    def token(self) -> str:
        return self.record.token


def issue_example(rt, doc_type: str, language: str = "kk+ru", **data_changes) -> Issued:
    """Issue the type's example request (its own external_id) through the application layer."""
    raw = copy.deepcopy(example(doc_type, language))
    raw["external_id"] = f"web-{doc_type}-{uuid.uuid4().hex[:10]}"
    raw["data"].update(data_changes)
    record = issue(rt, raw, caller=Caller("web-tests", "web-tests")).record
    (version,) = rt.store.versions(record.id)
    return Issued(record, rt.store.blobs.get(version.pdf_sha256))


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The real server (its ``url``, ``app``, ``runtime``)."""
    with serve(tmp_path_factory.mktemp("web") / "data", pool_size=1) as live:
        yield live


@pytest.fixture(scope="session")
def documents(site) -> dict[str, Issued]:
    """One document of each type in kk+ru, issued once for the session."""
    types = ["land_right_act", "cadastral_information", "address_certificate", "cadastral_value_act",
             "motivated_refusal"]
    return {t: issue_example(site.runtime, t) for t in types}


def small_app(runtime, options: PublicOptions | None = None) -> FastAPI:
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(make_public_router(options or PublicOptions(
        limits=RateLimits(page="10000/minute", download="10000/minute", compare="10000/minute"))))
    return app


@pytest.fixture
def page_client(site) -> Iterator[TestClient]:
    """A client of the page's router alone (limits out of the way) over the server's runtime."""
    with TestClient(small_app(site.runtime), follow_redirects=False) as c:
        yield c


def add_version(rt, issued: Issued, **status) -> bytes:
    """Version n+1 of a record (as a regeneration makes it: same token, so the same QR), signed
    by the enterprise head; the new PDF's bytes."""
    from signing.sign import sign_pdf
    from store import NewVersion, SignatureInfo, TemplateRef

    record = rt.store.get(issued.record.id)
    request = rt.parse({"type": record.type, "language": record.language, "data": record.data})
    rendered = rt.renderer.render(request, token=record.token)
    pdf = sign_pdf(rendered.pdf, rt.signer, certify=True)
    content = NewVersion(pdf=pdf, docx=rendered.docx,
                         templates={t["lang"]: TemplateRef(str(t["version"]), t["sha256"]) for t in rendered.templates},
                         signatures=(SignatureInfo("ЖАНДОСОВ АЙДАР", rt.clock()),))
    rt.store.add_version(record.id, content, actor="web-tests", **status)
    return pdf
