from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from journalist_app.errors import PermissionDenied
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case, CaseEvent, ReportTriage
from journalist_app.triage import statuses
from journalist_app.triage.bulk import mute_reporters
from journalist_app.triage.errors import GroupingRefused
from journalist_app.triage.grouping import merge_cases, split_case
from journalist_app.triage.ingest import index_pending, index_report
from journalist_app.triage.urls import normalise_url
from journalist_app.triage.workflow import change_status
from tests.support.triage import TriageWorld, make_world

NOW = datetime(2026, 11, 29, 9)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


def _case_of(world: TriageWorld, report_id: str) -> int:
    triage = world.session.get(ReportTriage, report_id)
    assert triage is not None
    return triage.case_id


def _report_count(world: TriageWorld) -> int:
    return world.session.scalar(select(func.count()).select_from(ReportTriage)) or 0


def _live_cases(world: TriageWorld) -> list[Case]:
    return list(world.session.scalars(select(Case).where(Case.status != statuses.MERGED)))


def test_reports_of_the_same_address_written_differently_share_one_case(world) -> None:
    first = world.add_report(
        {"category": "fraud", "urls": ["https://www.shop.example/a/?utm_id=x"]}
    )
    second = world.add_report({"category": "fraud", "urls": ["http://SHOP.example/a"]})
    third = world.add_report({"category": "fraud", "urls": ["https://shop.example/other"]})

    index_pending(world.session, world.store, world.supervisor)

    assert _case_of(world, first) == _case_of(world, second) != _case_of(world, third)
    case = world.session.get(Case, _case_of(world, first))
    assert case.report_count == 2 and case.unread_count == 0
    assert _report_count(world) == 3, "every report is kept"
    assert len(_live_cases(world)) == 2


def test_reports_carrying_the_same_file_share_one_case(world) -> None:
    first = world.add_report({"category": "hate"}, attachments=[("a.png", PNG)])
    second = world.add_report({"category": "hate"}, attachments=[("other-name.jpg", PNG)])
    different = world.add_report({"category": "hate"}, attachments=[("a.png", PNG + b"!")])

    index_pending(world.session, world.store, world.supervisor)

    assert _case_of(world, first) == _case_of(world, second) != _case_of(world, different)


def test_a_follow_up_joins_its_reporters_case_once_its_signature_verifies(world) -> None:
    # The reporter id alone is the public host's word (issue 9, item 2): no grouping
    # before the follow-up's signature is checked against the first report's key.
    first = world.add_report({"category": "fraud"}, reporter_id="ab" * 16)
    follow_up = world.add_report({"category": "fraud"}, reporter_id="ab" * 16, kind="followup")
    assert _case_of(world, first) != _case_of(world, follow_up)

    index_pending(world.session, world.store, world.supervisor)

    assert _case_of(world, first) == _case_of(world, follow_up)
    assert world.session.get(Case, _case_of(world, first)).report_count == 2


def test_a_grouped_case_takes_the_most_urgent_category_and_the_oldest_time(world) -> None:
    url = "https://example.org/post/1"
    world.add_report({"category": "hate", "urls": [url]}, received=datetime(2026, 11, 28, 10))
    later = world.add_report(
        {"category": "terrorism", "urls": [url]}, received=datetime(2026, 11, 28, 15)
    )
    index_pending(world.session, world.store, world.supervisor)
    case = world.session.get(Case, _case_of(world, later))
    assert (case.category, case.priority) == ("terrorism", 1)
    assert case.received == datetime(2026, 11, 28, 10)
    assert case.sla_due_at == datetime(2026, 11, 28, 12)


def test_reports_of_a_closed_case_start_a_new_case_linked_to_it(world) -> None:
    url = "https://example.org/closed"
    old = world.add_report({"category": "fraud", "urls": [url]})
    index_pending(world.session, world.store, world.supervisor)
    old_case = _case_of(world, old)
    change_status(world.session, world.analyst, old_case, "closed", "handled", NOW)

    fresh = world.add_report({"category": "fraud", "urls": [url]})
    index_pending(world.session, world.store, world.supervisor)

    assert _case_of(world, fresh) != old_case
    related = world.session.scalars(
        select(CaseEvent).where(CaseEvent.action == "case.related")
    ).all()
    assert {e.case_id for e in related} == {old_case, _case_of(world, fresh)}


def test_a_forged_report_naming_many_cases_does_not_fold_them_together(world) -> None:
    first = world.add_report({"category": "fraud", "urls": ["https://a.example/1"]})
    second = world.add_report({"category": "hate", "urls": ["https://b.example/2"]})
    index_pending(world.session, world.store, world.supervisor)
    forged = world.add_report(
        {"category": "other", "urls": ["https://a.example/1", "https://b.example/2"]}
    )
    index_pending(world.session, world.store, world.supervisor)

    cases = {_case_of(world, r) for r in (first, second, forged)}
    assert len(cases) == 2, "joined one case, the other is only noted as related"
    assert _case_of(world, forged) == _case_of(world, first)


def test_merge_moves_every_report_and_keeps_the_emptied_case_as_a_record(world) -> None:
    a = [world.add_report({"category": "fraud", "urls": ["https://a.example/1"]}) for _ in "ab"]
    b = world.add_report({"category": "threat_to_life"})
    index_pending(world.session, world.store, world.supervisor)
    target, source = _case_of(world, a[0]), _case_of(world, b)

    merge_cases(world.session, world.analyst, target, source, NOW)

    assert {_case_of(world, r) for r in (*a, b)} == {target}
    merged = world.session.get(Case, source)
    assert (merged.status, merged.merged_into_id, merged.is_open) == ("merged", target, False)
    kept = world.session.get(Case, target)
    assert kept.report_count == 3 and kept.priority == 1
    assert _report_count(world) == 3


@pytest.mark.parametrize("closed_target", [True, False])
def test_impossible_merges_are_refused(world, closed_target) -> None:
    one = world.add_report({"category": "fraud"})
    two = world.add_report({"category": "fraud"})
    index_pending(world.session, world.store, world.supervisor)
    target, source = _case_of(world, one), _case_of(world, two)
    if closed_target:
        change_status(world.session, world.analyst, target, "closed", "duplicate", NOW)
        with pytest.raises(GroupingRefused):
            merge_cases(world.session, world.analyst, target, source, NOW)
    else:
        with pytest.raises(GroupingRefused):
            merge_cases(world.session, world.analyst, target, target, NOW)
        merge_cases(world.session, world.analyst, target, source, NOW)
        with pytest.raises(GroupingRefused):
            merge_cases(world.session, world.analyst, target, source, NOW)
    assert _report_count(world) == 2


def test_split_moves_the_chosen_reports_to_a_new_case_with_the_same_status(world) -> None:
    url = "https://example.org/same"
    ids = [world.add_report({"category": "hate", "urls": [url]}) for _ in range(3)]
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case_of(world, ids[0])
    change_status(world.session, world.analyst, case_id, "triaged", now=NOW)

    new = split_case(world.session, world.analyst, case_id, [ids[2]], NOW)

    assert _case_of(world, ids[2]) == new.id != case_id
    assert {_case_of(world, ids[0]), _case_of(world, ids[1])} == {case_id}
    assert new.status == "triaged" and new.report_count == 1
    assert world.session.get(Case, case_id).report_count == 2
    assert _report_count(world) == 3


def test_a_split_must_leave_a_report_and_take_only_the_cases_own(world) -> None:
    url = "https://example.org/same"
    ids = [world.add_report({"category": "hate", "urls": [url]}) for _ in range(2)]
    stranger = world.add_report({"category": "hate"})
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case_of(world, ids[0])
    for chosen in (ids, [stranger], []):
        with pytest.raises(GroupingRefused):
            split_case(world.session, world.analyst, case_id, chosen, NOW)
    assert world.session.get(Case, case_id).report_count == 2


def test_a_technical_expert_may_not_regroup(world) -> None:
    one, two = world.add_report({"category": "fraud"}), world.add_report({"category": "fraud"})
    with pytest.raises(PermissionDenied):
        merge_cases(world.session, world.expert, _case_of(world, one), _case_of(world, two), NOW)


def test_a_report_sealed_to_another_key_waits_and_a_broken_one_is_marked(world) -> None:
    broken = world.add_report(b"not json at all")
    waiting = world.add_report({"category": "fraud"}, raw_blobs={})
    stranger = UnlockedKeyring(username="x", role="analyst", officer_id=world.analyst.officer_id)
    assert index_report(world.session, world.store, stranger, waiting) == "not_for_me"
    assert index_report(world.session, world.store, world.supervisor, broken) == "damaged"
    assert world.session.get(ReportTriage, waiting).state == "pending"
    case = world.session.get(Case, _case_of(world, broken))
    assert case.unread_count == 0 and case.category is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://Example.org:443/a/b/../c/", "http://example.org/a/c"),
        ("example.org/x?b=2&a=1&fbclid=zz", "https://www.example.org/x?a=1&b=2"),
        ("https://m.facebook.com/page#comments", "https://facebook.com/page"),
        ("https://youtu.be/abc123", "https://www.youtube.com/watch?v=abc123"),
        ("https://ex\u200bample.org/%7Euser", "https://example.org/~user"),
        ("https://пример.рф/путь", "http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C"),
    ],
)
def test_addresses_that_name_the_same_page_normalise_alike(a, b) -> None:
    assert normalise_url(a) == normalise_url(b) is not None


@pytest.mark.parametrize(
    "raw", ["javascript:alert(1)", "data:text/html,x", "ftp://example.org/", "not a url", ""]
)
def test_what_is_not_a_web_address_has_no_key(raw) -> None:
    assert normalise_url(raw) is None


@given(st.text(max_size=60))
def test_normalising_is_stable(raw) -> None:
    key = normalise_url("https://example.org/" + raw)
    if key is not None:
        assert normalise_url("https://" + key) == key


def test_a_muted_receipt_code_ranks_its_later_reports_lowest(world) -> None:
    reporter = "ab" * 16
    first = world.add_report({"category": "fraud"}, reporter_id=reporter)
    index_pending(world.session, world.store, world.supervisor)
    # This session has now seen that nothing is muted; muting from another session (an
    # officer's request) must still reach this one's next reports.
    with Session(world.session.get_bind()) as officer_request:
        mute_reporters(officer_request, world.supervisor, _case_of(world, first), datetime.now())
        officer_request.commit()
    world.session.info.pop("muted_reporters", None)  # a new sync run starts a new session
    later = world.add_report({"category": "fraud"}, reporter_id=reporter)
    other = world.add_report({"category": "fraud"})
    index_pending(world.session, world.store, world.supervisor)
    priority = {r: world.session.get(Case, _case_of(world, r)).priority for r in (later, other)}
    assert priority[later] == 4 and priority[other] < 4
