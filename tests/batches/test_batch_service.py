"""The application layer of batches in one process (qujat.batches, as POST /batches calls it):
filters and the dry run, resume or a new batch, annulled records skipped unless asked, retry of
the failed records, the background run of `submit`, and the LTV extension kind."""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import shutil
import uuid
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import update

from docgen.errors import RequestInvalid
from qujat import batches, service
from qujat.batches import BatchKind, BatchSpec
from qujat.runtime import open_runtime
from signing.model import Indication, TimestampKind
from signing.pki import PkiServer, load_dev_pki
from signing.verify import verify_pdf
from store import Action, NotFound
from store.batches import RecordFilter
from store.orm import RecordRow, VersionRow
from tests.api.conftest import serve
from tests.api.helpers import pdfsig_valid
from tests.batches.conftest import ARCHIVE_SIZE, Archive, break_records, wait_for

pytestmark = pytest.mark.slow
CALLER = service.Caller(client_id="cli", actor="cli:archivist")
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def svc(archive_template, tmp_path_factory):
    """One copy of the archive for this module and a runtime on it (tests take disjoint records),
    with the dev PKI's TSA served for the LTV extension."""
    data = tmp_path_factory.mktemp("svc") / "data"
    shutil.copytree(archive_template, data)
    archive = Archive(data, f"sqlite:///{data / 'qujat.sqlite3'}")
    pki = load_dev_pki(data / "pki")
    settings = dataclasses.replace(archive.settings(), tsa_url=pki.tsa_url, verify_online=True,
                                   fetch_allow_private=True)
    with PkiServer(pki), open_runtime(settings, convert=True, sign=True, store=True) as rt:
        ids = sorted(c.id for page in rt.store.batch_candidates(RecordFilter()) for c in page)
        yield rt, ids


def test_spec_from_json_normalises_and_names_bad_fields():
    spec = BatchSpec.from_json({"types": ["motivated_refusal", "land_right_act", "land_right_act"],
                                "statuses": ["valid", "annulled"], "issued_to": "2026-11-30"})
    assert spec.types == ("land_right_act", "motivated_refusal") and spec.include_annulled
    assert spec.statuses == ("valid",) and BatchSpec.from_json(spec.to_json()) == spec
    with pytest.raises(RequestInvalid) as e:
        BatchSpec.from_json({"kind": "shred", "languages": "kk", "ids": ["x"], "issued_from": "2026-12-01",
                             "issued_to": "2026-11-01", "below_current_template": "yes", "colour": 1,
                             "statuses": ["valid", "awaiting_signature"]})
    assert {p.path for p in e.value.problems} == {"kind", "languages", "ids.0", "issued_to",
                                                  "below_current_template", "colour", "statuses.1"}


def test_filters_and_dry_run(svc):
    rt, ids = svc
    assert batches.plan(rt, BatchSpec()).matching == ARCHIVE_SIZE
    assert batches.plan(rt, BatchSpec(types=("motivated_refusal",), languages=("ru",))).matching == ARCHIVE_SIZE // 4
    assert batches.plan(rt, BatchSpec(languages=("kk+ru",))).matching == 0
    # the days are Kazakhstan's on which the records were issued, not today: the archive is made
    # minutes before this test, so midnight in Almaty (19:00 UTC) may fall in between, or in the
    # middle of the archive (then two days, each counted alone)
    zone = ZoneInfo(rt.settings.timezone)
    days = collections.Counter(service.get(rt, rid).created_at.astimezone(zone).date() for rid in ids)
    assert max(days) <= rt.today() and sum(days.values()) == ARCHIVE_SIZE
    for day, issued in days.items():
        assert batches.plan(rt, BatchSpec(issued_from=day, issued_to=day)).matching == issued, day
    assert batches.plan(rt, BatchSpec(issued_from=min(days), issued_to=max(days))).matching == ARCHIVE_SIZE
    assert batches.plan(rt, BatchSpec(issued_from=max(days) + DAY)).matching == 0
    assert batches.plan(rt, BatchSpec(issued_to=min(days) - DAY)).matching == 0
    plan = batches.plan(rt, BatchSpec(ids=tuple(ids[:3])))
    assert (plan.matching, set(plan.sample)) == (3, set(ids[:3]))
    # records whose version was made with an older template than the current one
    with rt.store.engine.begin() as conn:
        for rid in ids[190:195]:
            old = {"kk": {"version": "0.9", "sha256": "0" * 64}}
            conn.execute(update(VersionRow).where(VersionRow.record_id == rid).values(templates=old))
    plan = batches.plan(rt, BatchSpec(below_current_template=True))
    assert (plan.matching, set(plan.sample)) == (5, set(ids[190:195]))
    with pytest.raises(RequestInvalid) as e:
        batches.start(rt, BatchSpec(ids=(ids[0], uuid.UUID(int=7))), caller=CALLER)
    assert [(p.path, p.message) for p in e.value.problems] == [("ids", f"no record with the id {uuid.UUID(int=7)}")]
    with pytest.raises(NotFound):
        batches.progress(rt, uuid.uuid4())


def test_same_spec_resumes_new_starts_another_and_annulled_are_skipped(svc):
    rt, ids = svc
    mine = ids[20:26]
    service.annul(rt, mine[0], "қате деректер / ошибочные данные", CALLER)
    spec = BatchSpec(ids=tuple(mine))
    first, resumed = batches.start(rt, spec, caller=CALLER)
    assert not resumed and (first.total, first.pending, first.skipped) == (6, 5, 1)
    again, resumed = batches.start(rt, spec, caller=CALLER)
    assert resumed and again.id == first.id
    other, resumed = batches.start(rt, spec, caller=CALLER, new=True)
    assert not resumed and other.id != first.id
    assert batches.progress(rt, first.id).status == "cancelled"
    done = batches.run(rt, other.id, workers=0)
    assert (done.status, done.done, done.skipped, done.failed) == ("finished", 5, 1, 0)
    assert [v.number for v in service.versions(rt, mine[0])] == [1]            # annulled: left alone
    items = {i.record_id: i for i in batches.items(rt, other.id)}
    assert (items[mine[0]].state, items[mine[0]].reason) == ("skipped", "annulled")
    # asked for: the annulled record gets its version too, and stays annulled
    with_annulled, _ = batches.start(rt, BatchSpec(ids=(mine[0],), include_annulled=True), caller=CALLER)
    assert batches.run(rt, with_annulled.id, workers=0).done == 1
    assert service.get(rt, mine[0]).status.value == "annulled"
    assert [v.number for v in service.versions(rt, mine[0])] == [1, 2]
    actions = [e.action for e in service.audit(rt, mine[1])]
    assert actions == [Action.ISSUE, Action.REGENERATE]


def test_retry_failed_redoes_only_the_failed_records(svc):
    rt, ids = svc
    mine = ids[40:45]
    with rt.store.engine.connect() as conn:
        saved = {rid: conn.execute(RecordRow.__table__.select().where(RecordRow.id == rid)).one().data
                 for rid in mine[:2]}
    break_records(rt.store, mine[:2])
    batch, _ = batches.start(rt, BatchSpec(ids=tuple(mine)), caller=CALLER)
    first = batches.run(rt, batch.id, workers=0)
    assert (first.done, first.failed) == (3, 2)
    assert {rid for rid, _ in first.failures} == set(mine[:2])
    with rt.store.engine.begin() as conn:                     # the data mended
        for rid, data in saved.items():
            conn.execute(update(RecordRow).where(RecordRow.id == rid).values(data=data))
    retry = batches.retry_failed(rt, batch.id, caller=CALLER)
    assert (retry.retry_of, retry.total) == (batch.id, 2)
    assert batches.retry_failed(rt, batch.id, caller=CALLER).id == retry.id     # resumed
    final = batches.run(rt, retry.id, workers=0)
    assert (final.done, final.failed, final.status) == (2, 0, "finished")
    for rid in mine:
        assert [v.number for v in service.versions(rt, rid)] == [1, 2]


def test_submit_runs_in_the_background(svc):
    rt, ids = svc
    batch, _ = batches.start(rt, BatchSpec(ids=tuple(ids[60:64])), caller=CALLER)
    # the test holds SQLite's write lock: no record can be done while it does, so submit must
    # return without doing them (a call that did the batch would wait here for the lock); a
    # bound on submit's wall time (1 s) failed whenever a loaded machine paused this thread
    with rt.store.engine.begin():                 # BEGIN IMMEDIATE (store.db)
        thread = batches.submit(rt, batch.id)
        assert thread is not None and thread.is_alive()
        assert batches.progress(rt, batch.id).done == 0
    final = wait_for(lambda: (p := batches.progress(rt, batch.id)).status == "finished" and p, 60,
                     "the submitted batch")
    assert final.done == 4


def test_extend_ltv_adds_a_version_with_the_same_docx_and_a_document_timestamp(svc, tmp_path):
    rt, ids = svc
    mine = tuple(ids[80:82])
    before = {rid: service.versions(rt, rid)[-1] for rid in mine}
    batch, _ = batches.start(rt, BatchSpec(kind=BatchKind.EXTEND_LTV, ids=mine), caller=CALLER)
    final = batches.run(rt, batch.id, workers=0)
    assert (final.done, final.failed) == (2, 0), final.failures
    for rid in mine:
        old, new = before[rid], service.versions(rt, rid)[-1]
        assert new.number == old.number + 1 and new.docx_sha256 == old.docx_sha256
        old_pdf, new_pdf = rt.store.blobs.get(old.pdf_sha256), rt.store.blobs.get(new.pdf_sha256)
        assert new_pdf.startswith(old_pdf) and hashlib.sha256(old_pdf).hexdigest() == old.pdf_sha256
        report = verify_pdf(new_pdf, trust=rt.trust_anchors)
        assert report.indication is Indication.TOTAL_PASSED
        # the archive was issued at B-B: a document timestamp first (its T evidence), then the
        # DSS and an archive timestamp
        assert [t.kind for t in report.timestamps] == [TimestampKind.DOCUMENT] * 2
        assert pdfsig_valid(new_pdf, tmp_path) == 1
        assert service.audit(rt, rid)[-1].action is Action.EXTEND_LTV
    # extending versions already at B-LTA again (the command run once more): a renewal, one more
    # version whose second document timestamp covers the first; everything still verifies
    again, resumed = batches.start(rt, BatchSpec(kind=BatchKind.EXTEND_LTV, ids=mine), caller=CALLER)
    assert not resumed and again.id != batch.id
    assert (batches.run(rt, again.id, workers=0).done, len(rt.store.batch_versions(again.id))) == (2, 2)
    for rid in mine:
        twice = service.versions(rt, rid)[-1]
        assert twice.number == before[rid].number + 2
        pdf = rt.store.blobs.get(twice.pdf_sha256)
        report = verify_pdf(pdf, trust=rt.trust_anchors)
        assert report.indication is Indication.TOTAL_PASSED
        assert [t.kind for t in report.timestamps] == [TimestampKind.DOCUMENT] * 3
        assert pdfsig_valid(pdf, tmp_path) == 1


def test_the_public_page_lists_both_versions_and_serves_each(svc):
    rt, ids = svc
    rid = ids[100]
    batch, _ = batches.start(rt, BatchSpec(ids=(rid,)), caller=CALLER)
    assert batches.run(rt, batch.id, workers=0).done == 1
    record, versions = service.get(rt, rid), service.versions(rt, rid)
    with serve(rt.settings.data_dir, pool_size=1, base_url=rt.settings.public_base_url) as live, \
            httpx2.Client(base_url=live.url, timeout=60) as http:
        page = http.get(f"/v/{record.token}.json")
        assert page.status_code == 200
        listed = page.json()["versions"]
        assert [v["number"] for v in listed] == [1, 2]
        for v, stored in zip(listed, versions):
            pdf = http.get(v["pdf_url"].replace(rt.settings.public_base_url, ""))
            assert pdf.status_code == 200
            assert hashlib.sha256(pdf.content).hexdigest() == stored.pdf_sha256 == v["pdf_sha256"]
        html = http.get(f"/v/{record.token}")
        assert html.status_code == 200
        assert 'id="version-1"' in html.text and 'id="version-2"' in html.text


def test_records_signed_by_officials_are_skipped_by_a_regeneration_not_by_an_extension(svc):
    """The server's keys never stand in for an official's own signature; a B-LTA extension adds
    no signature and takes such a record."""
    from store.batches import Candidate

    rt, ids = svc
    signed_by_officials = Candidate(id=uuid.uuid4(), type="cadastral_value_act", language="kk",
                                    status="valid", templates={}, officials_signed=True)
    server_signed = dataclasses.replace(signed_by_officials, officials_signed=False)
    regenerate = batches._classifier(rt, BatchSpec())
    extend = batches._classifier(rt, BatchSpec(kind=BatchKind.EXTEND_LTV))
    assert regenerate(signed_by_officials) == batches.OFFICIALS_SIGNED
    assert regenerate(server_signed) is None
    assert extend(signed_by_officials) is None
