"""SuppressionStore contract (mailroom.ports): the fake and the DynamoDB store alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.errors import InvalidCursor
from mailroom.models import Suppression, SuppressionReason

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)
HARD = SuppressionReason.HARD_BOUNCE
SOFT = SuppressionReason.SOFT_BOUNCE
COMPLAINT = SuppressionReason.COMPLAINT
MANUAL = SuppressionReason.MANUAL


def entry(reason: SuppressionReason = HARD, expires_in: timedelta | None = None,
          minutes: int = 0, note: str | None = None, email: str = "ada@example.com",
          source: str = "ses") -> Suppression:
    return Suppression(email=email, reason=reason,
                       created_at=NOW + timedelta(minutes=minutes),
                       expires_at=NOW + expires_in if expires_in else None,
                       source=source, note=note)


# --- get, get_many, put, delete ----------------------------------------------------------
def test_a_suppression_reads_back_as_written(suppression_store):
    written = entry(SOFT, timedelta(days=14), note="Bounce Transient/General (SES m1)")

    suppression_store.put(written)

    assert suppression_store.get("ada@example.com", NOW) == written


def test_an_address_never_suppressed_reads_as_none(suppression_store):
    assert suppression_store.get("ada@example.com", NOW) is None


def test_an_expired_suppression_is_ignored(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=14)))

    assert suppression_store.get("ada@example.com", NOW + timedelta(days=13)) is not None
    assert suppression_store.get("ada@example.com", NOW + timedelta(days=15)) is None
    assert suppression_store.list(NOW + timedelta(days=15), None, 10, None) == ([], None)


def test_get_many_answers_only_the_active_suppressions_among_many_addresses(suppression_store):
    # Given three suppressed addresses, one of them expired, among 150 asked about
    suppression_store.put(entry(HARD, email="u003@example.com"))
    suppression_store.put(entry(MANUAL, email="u120@example.com", source="api"))
    suppression_store.put(entry(SOFT, timedelta(days=1), email="u140@example.com"))
    asked = [f"u{index:03d}@example.com" for index in range(150)] + ["u003@example.com"]

    found = suppression_store.get_many(asked, NOW + timedelta(days=2))

    assert found == {"u003@example.com": entry(HARD, email="u003@example.com"),
                     "u120@example.com": entry(MANUAL, email="u120@example.com",
                                               source="api")}


def test_put_replaces_whatever_is_there(suppression_store):
    suppression_store.put(entry(COMPLAINT, note="feedback"))
    replacement = entry(MANUAL, timedelta(days=3), source="api")

    suppression_store.put(replacement)

    assert suppression_store.get("ada@example.com", NOW) == replacement


def test_making_a_suppression_permanent_clears_its_expiry(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=1)))
    suppression_store.put(entry(COMPLAINT))

    assert suppression_store.get("ada@example.com", NOW + timedelta(days=30)) == entry(COMPLAINT)


def test_delete_answers_whether_there_was_an_entry(suppression_store):
    suppression_store.put(entry(HARD))

    assert suppression_store.delete("ada@example.com") is True
    assert suppression_store.get("ada@example.com", NOW) is None
    assert suppression_store.delete("ada@example.com") is False


def test_delete_removes_an_expired_entry_not_yet_swept(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=1)))

    assert suppression_store.delete("ada@example.com") is True


def test_delete_forgets_the_soft_bounce_count(suppression_store):
    count(suppression_store, NOW, "b1")
    count(suppression_store, NOW, "b2")
    suppression_store.put(entry(MANUAL, source="api"))

    assert suppression_store.delete("ada@example.com") is True
    assert count(suppression_store, NOW, "b3").count == 1


# --- strengthen --------------------------------------------------------------------------
def test_strengthen_writes_where_there_is_nothing(suppression_store):
    assert suppression_store.strengthen(entry(HARD), {SOFT}) is True
    assert suppression_store.get("ada@example.com", NOW) == entry(HARD)


def test_strengthen_replaces_an_expired_entry(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=1)))

    later = entry(SOFT, timedelta(days=20), minutes=3 * 24 * 60)
    assert suppression_store.strengthen(later) is True
    assert suppression_store.get("ada@example.com", NOW + timedelta(days=4)) == later


def test_strengthen_never_lets_a_soft_bounce_replace_a_hard_bounce(suppression_store):
    suppression_store.put(entry(HARD))

    assert suppression_store.strengthen(entry(SOFT, timedelta(days=14), minutes=1)) is False
    assert suppression_store.get("ada@example.com", NOW + timedelta(days=30)) == entry(HARD)


def test_strengthen_makes_an_expiring_entry_permanent(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=14)))

    assert suppression_store.strengthen(entry(HARD, minutes=1), {SOFT}) is True
    assert suppression_store.get("ada@example.com", NOW + timedelta(days=30)) == entry(
        HARD, minutes=1)


def test_strengthen_lets_an_expiring_entry_grow_but_not_shrink(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=14)))

    assert suppression_store.strengthen(entry(SOFT, timedelta(days=10), minutes=1)) is False
    assert suppression_store.strengthen(entry(SOFT, timedelta(days=14), minutes=2)) is True
    assert suppression_store.strengthen(entry(SOFT, timedelta(days=20), minutes=3)) is True
    assert suppression_store.get("ada@example.com", NOW) == entry(SOFT, timedelta(days=20),
                                                                  minutes=3)


def test_strengthen_lets_a_complaint_replace_a_hard_bounce_and_not_back(suppression_store):
    suppression_store.put(entry(HARD))

    assert suppression_store.strengthen(entry(COMPLAINT, minutes=1), {HARD, SOFT}) is True
    assert suppression_store.strengthen(entry(HARD, minutes=2), {SOFT}) is False
    assert suppression_store.get("ada@example.com", NOW).reason is COMPLAINT


def test_strengthen_never_replaces_an_operators_permanent_entry(suppression_store):
    suppression_store.put(entry(MANUAL, source="api"))

    assert suppression_store.strengthen(entry(COMPLAINT, minutes=1), {HARD, SOFT}) is False
    assert suppression_store.get("ada@example.com", NOW).reason is MANUAL


def test_strengthen_answers_a_retry_of_the_same_entry_as_the_first_time(suppression_store):
    hard = entry(HARD, note="Bounce Permanent/General (SES message m1)")
    assert suppression_store.strengthen(hard, {SOFT}) is True

    assert suppression_store.strengthen(hard, {SOFT}) is True
    assert suppression_store.strengthen(entry(HARD, minutes=5, note="another"), {SOFT}) is False
    assert suppression_store.get("ada@example.com", NOW) == hard


# --- list --------------------------------------------------------------------------------
def suppress_many(store, count_: int) -> list[str]:
    """`count_` active entries, alternately complaints and hard bounces, plus an expired
    one and a soft-bounce count (neither is ever listed). Returns the active addresses."""
    emails = []
    for index in range(count_):
        email = f"user{index:02d}@example.com"
        store.put(entry(COMPLAINT if index % 2 else HARD, email=email, minutes=index % 3))
        emails.append(email)
    store.put(entry(COMPLAINT, timedelta(minutes=1), email="gone@example.com"))
    store.record_soft_bounce("bouncy@example.com", NOW, "b1", WINDOW, NOW)
    return emails


def every_page(store, reason, limit, now=NOW) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page, cursor = store.list(now, reason, limit, cursor)
        assert len(page) <= limit
        pages.append([item.email for item in page])
        if cursor is None:
            return pages


def test_listing_returns_the_active_entries_with_no_cursor_when_they_fit(suppression_store):
    emails = suppress_many(suppression_store, 5)

    items, cursor = suppression_store.list(NOW + timedelta(minutes=2), None, 10, None)

    assert sorted(item.email for item in items) == emails
    assert cursor is None


def test_listing_filters_by_reason(suppression_store):
    emails = suppress_many(suppression_store, 7)

    items, _ = suppression_store.list(NOW + timedelta(minutes=2), COMPLAINT, 10, None)

    assert sorted(item.email for item in items) == emails[1::2]
    assert {item.reason for item in items} == {COMPLAINT}


@pytest.mark.parametrize("reason", [None, COMPLAINT])
@pytest.mark.parametrize("limit", [1, 3, 4])
def test_paging_visits_every_entry_once(suppression_store, reason, limit):
    emails = suppress_many(suppression_store, 8)
    expected = emails if reason is None else emails[1::2]

    pages = every_page(suppression_store, reason, limit, NOW + timedelta(minutes=2))

    seen = [email for page in pages for email in page]
    assert sorted(seen) == expected  # no gaps, no duplicates
    assert all(len(page) == limit for page in pages[:-1])
    assert pages[-1]  # a cursor is given only when an entry follows


@pytest.mark.parametrize("cursor", [
    "not-a-cursor!", "MQ==", "e30=",  # not base64 JSON / not an object / {}
    "eyJmb28iOiB7IlMiOiAieCJ9fQ==",  # {"foo": {"S": "x"}}
])
def test_a_cursor_the_store_did_not_make_is_refused(suppression_store, cursor):
    with pytest.raises(InvalidCursor):
        suppression_store.list(NOW, None, 10, cursor)


def test_a_cursor_of_one_listing_is_refused_by_another(suppression_store):
    suppress_many(suppression_store, 6)
    _, by_reason = suppression_store.list(NOW, COMPLAINT, 1, None)
    _, everything = suppression_store.list(NOW, None, 1, None)

    with pytest.raises(InvalidCursor):
        suppression_store.list(NOW, None, 10, by_reason)
    with pytest.raises(InvalidCursor):
        suppression_store.list(NOW, COMPLAINT, 10, everything)
    with pytest.raises(InvalidCursor):
        suppression_store.list(NOW, HARD, 10, by_reason)


# --- soft bounces ------------------------------------------------------------------------
def count(store, at, key, now=None):
    return store.record_soft_bounce("ada@example.com", at, key, WINDOW, now or at)


def test_each_soft_bounce_counts_once(suppression_store):
    first = count(suppression_store, NOW, "b1")
    redelivered = count(suppression_store, NOW, "b1")
    second = count(suppression_store, NOW + timedelta(hours=1), "b2")

    assert [first.count, redelivered.count, second.count] == [1, 1, 2]
    assert second.latest == NOW + timedelta(hours=1)


def test_counting_soft_bounces_is_not_suppressing(suppression_store):
    count(suppression_store, NOW, "b1")

    assert suppression_store.get("ada@example.com", NOW) is None
    assert suppression_store.list(NOW, None, 10, None) == ([], None)


def test_soft_bounces_recorded_out_of_order_all_count(suppression_store):
    later = NOW + timedelta(hours=5)
    times = [NOW + timedelta(hours=2), NOW + timedelta(hours=1), NOW]

    results = [count(suppression_store, at, f"b{i}", now=later) for i, at in enumerate(times)]

    assert [result.count for result in results] == [1, 2, 3]
    assert {result.latest for result in results} == {NOW + timedelta(hours=2)}


def test_bounces_older_than_the_window_are_forgotten(suppression_store):
    counts = [
        count(suppression_store, NOW, "b1").count,
        count(suppression_store, NOW + timedelta(days=1), "b2").count,
        count(suppression_store, NOW + timedelta(days=7, hours=12), "b3").count,
    ]

    assert counts == [1, 2, 2]  # b1 had left the window, b2 not


def test_a_bounce_already_outside_the_window_is_not_counted(suppression_store):
    count(suppression_store, NOW, "b1")

    late = count(suppression_store, NOW - timedelta(days=8), "old", now=NOW)

    assert (late.count, late.latest) == (1, NOW)


def test_the_whole_count_is_forgotten_one_window_after_the_latest(suppression_store):
    count(suppression_store, NOW, "b1")
    count(suppression_store, NOW + timedelta(days=1), "b2")

    after = count(suppression_store, NOW + timedelta(days=8, seconds=1), "b3")

    assert (after.count, after.latest) == (1, NOW + timedelta(days=8, seconds=1))


def test_a_redelivered_bounce_outside_the_window_changes_nothing(suppression_store):
    count(suppression_store, NOW, "b1")

    again = count(suppression_store, NOW, "b1", now=NOW + timedelta(days=8))

    assert (again.count, again.latest) == (0, None)


def test_soft_bounce_counts_are_kept_per_address(suppression_store):
    count(suppression_store, NOW, "b1")

    other = suppression_store.record_soft_bounce("cy@example.com", NOW, "b2", WINDOW, NOW)

    assert other.count == 1


# --- add: what an import writes ----------------------------------------------------------
def test_add_writes_only_where_no_active_entry_is(suppression_store):
    imported = entry(MANUAL, note="from the old ESP", source="import")

    assert suppression_store.add(imported, NOW) is True
    assert suppression_store.add(entry(MANUAL, note="again", source="import"), NOW) is False

    assert suppression_store.get("ada@example.com", NOW) == imported


def test_add_never_overwrites_what_ses_recorded(suppression_store):
    bounced = entry(HARD)
    suppression_store.put(bounced)

    assert suppression_store.add(entry(MANUAL, source="import"), NOW) is False
    assert suppression_store.get("ada@example.com", NOW) == bounced


def test_add_replaces_an_entry_that_has_expired(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=1)))
    later = NOW + timedelta(days=2)

    assert suppression_store.add(entry(MANUAL, source="import", minutes=60 * 48), later)
    assert suppression_store.get("ada@example.com", later).reason is MANUAL


# --- history: who changed what, and a tombstone on removal -------------------------------
def test_each_change_is_kept_with_who_and_the_history_survives_removal(suppression_store):
    suppression_store.put(entry(HARD))
    suppression_store.put(entry(MANUAL, minutes=5, note="confirmed by support",
                                source="api").model_copy(update={"by": "ada (API key k1)"}))

    assert suppression_store.delete("ada@example.com", by="bob (API key k2)",
                                    at=NOW + timedelta(minutes=9)) is True

    assert suppression_store.get("ada@example.com", NOW) is None
    history = suppression_store.history("ada@example.com")
    assert [(h["action"], h.get("reason"), h.get("by")) for h in history] == [
        ("suppressed", "hard_bounce", None),
        ("suppressed", "manual", "ada (API key k1)"),
        ("removed", None, "bob (API key k2)")]
    assert history[1]["note"] == "confirmed by support"
    assert history[2]["at"] == (NOW + timedelta(minutes=9)).isoformat()
    assert suppression_store.delete("ada@example.com") is False  # nothing left to remove
    assert len(suppression_store.history("ada@example.com")) == 3
    assert suppression_store.list(NOW, None, 10, None) == ([], None)  # tombstones never list


def test_a_redelivered_event_does_not_repeat_the_history(suppression_store):
    bounced = entry(HARD)

    assert suppression_store.strengthen(bounced) is True
    assert suppression_store.strengthen(bounced) is True  # the same event, again

    assert len(suppression_store.history("ada@example.com")) == 1


def test_an_address_never_suppressed_has_no_history(suppression_store):
    assert suppression_store.history("nobody@example.com") == []


# --- categories --------------------------------------------------------------------------
UNSUBSCRIBED = SuppressionReason.UNSUBSCRIBED


def left(category: str, email: str = "ada@example.com", minutes: int = 0,
         expires_in: timedelta | None = None) -> Suppression:
    """The address left one category of mail."""
    return entry(UNSUBSCRIBED, expires_in, minutes, email=email, source="unsubscribe"
                 ).model_copy(update={"category": category})


def test_a_category_entry_stops_only_that_categorys_mail(suppression_store):
    suppression_store.put(left("digest"))

    assert suppression_store.get("ada@example.com", NOW) is None
    assert suppression_store.get("ada@example.com", NOW, "digest") == left("digest")
    assert suppression_store.get("ada@example.com", NOW, "product-news") is None
    assert suppression_store.get_many(["ada@example.com"], NOW) == {}
    assert suppression_store.get_many(["ada@example.com"], NOW, "digest") == {
        "ada@example.com": left("digest")}


def test_the_global_entry_is_the_one_answered_when_both_stop_the_mail(suppression_store):
    suppression_store.put(left("digest"))
    suppression_store.put(entry(HARD, minutes=5))
    suppression_store.put(left("digest", email="bob@example.com"))

    assert suppression_store.get("ada@example.com", NOW, "digest") == entry(HARD, minutes=5)
    assert suppression_store.get_many(["ada@example.com", "bob@example.com", "cy@example.com"],
                                      NOW, "digest") == {
        "ada@example.com": entry(HARD, minutes=5),
        "bob@example.com": left("digest", email="bob@example.com")}


def test_an_expired_global_entry_leaves_the_category_entry_in_force(suppression_store):
    suppression_store.put(entry(SOFT, timedelta(days=1)))
    suppression_store.put(left("digest"))

    later = NOW + timedelta(days=2)
    assert suppression_store.get("ada@example.com", later) is None
    assert suppression_store.get("ada@example.com", later, "digest") == left("digest")


def test_an_addresss_categories_are_its_active_category_entries(suppression_store):
    suppression_store.put(entry(MANUAL, source="api"))
    suppression_store.put(left("product-news", minutes=1))
    suppression_store.put(left("digest", minutes=2))
    suppression_store.put(left("survey", minutes=3, expires_in=timedelta(days=1)))
    suppression_store.put(left("digest", email="ada.other@example.com"))

    found = suppression_store.categories("ada@example.com", NOW + timedelta(days=2))

    assert found == [left("digest", minutes=2), left("product-news", minutes=1)]
    assert suppression_store.categories("bob@example.com", NOW) == []


def test_removing_a_category_entry_leaves_the_rest(suppression_store):
    suppression_store.put(entry(HARD))
    suppression_store.put(left("digest"))
    suppression_store.put(left("product-news"))
    suppression_store.record_soft_bounce("ada@example.com", NOW, "b1", WINDOW, NOW)

    assert suppression_store.delete("ada@example.com", by="key-1", at=NOW, category="digest")
    assert not suppression_store.delete("ada@example.com", category="digest")

    assert suppression_store.get("ada@example.com", NOW) == entry(HARD)
    assert suppression_store.categories("ada@example.com", NOW) == [left("product-news")]
    # the soft-bounce count belongs to the address's global standing: it stays
    count = suppression_store.record_soft_bounce("ada@example.com", NOW, "b2", WINDOW, NOW)
    assert count.count == 2
    assert [change["action"] for change in suppression_store.history(
        "ada@example.com", "digest")] == ["suppressed", "removed"]
    assert [change["action"] for change in suppression_store.history("ada@example.com")] == [
        "suppressed"]


def test_removing_the_global_entry_keeps_the_category_entries(suppression_store):
    suppression_store.put(entry(HARD))
    suppression_store.put(left("digest"))

    assert suppression_store.delete("ada@example.com")

    assert suppression_store.get("ada@example.com", NOW) is None
    assert suppression_store.get("ada@example.com", NOW, "digest") == left("digest")


def test_a_category_entry_has_a_history_of_its_own(suppression_store):
    suppression_store.put(left("digest").model_copy(update={"by": "key-1"}))

    history = suppression_store.history("ada@example.com", "digest")

    assert history == [{"at": NOW.isoformat(), "action": "suppressed", "reason": "unsubscribed",
                        "source": "unsubscribe", "by": "key-1", "category": "digest"}]
    assert suppression_store.history("ada@example.com") == []


def test_add_is_decided_per_place(suppression_store):
    assert suppression_store.add(entry(MANUAL, source="api"), NOW)
    assert suppression_store.add(left("digest"), NOW)  # a global entry is another place
    assert not suppression_store.add(left("digest", minutes=9), NOW)

    assert suppression_store.get("ada@example.com", NOW, "digest") == entry(MANUAL, source="api")
    assert suppression_store.categories("ada@example.com", NOW) == [left("digest")]


def test_listing_shows_category_entries_and_filters_by_category(suppression_store):
    suppression_store.put(entry(HARD))
    suppression_store.put(left("digest"))
    suppression_store.put(left("digest", email="bob@example.com"))
    suppression_store.put(left("product-news", email="bob@example.com"))

    everything, _ = suppression_store.list(NOW, None, 10, None)
    digest, _ = suppression_store.list(NOW, None, 10, None, "digest")
    unsubscribed_digest, _ = suppression_store.list(NOW, UNSUBSCRIBED, 10, None, "digest")
    hard_digest, _ = suppression_store.list(NOW, HARD, 10, None, "digest")

    assert sorted((item.email, item.category or "") for item in everything) == [
        ("ada@example.com", ""), ("ada@example.com", "digest"),
        ("bob@example.com", "digest"), ("bob@example.com", "product-news")]
    assert sorted(item.email for item in digest) == ["ada@example.com", "bob@example.com"]
    assert sorted(item.email for item in unsubscribed_digest) == sorted(
        item.email for item in digest)
    assert hard_digest == []


@pytest.mark.parametrize("limit", [1, 2])
def test_paging_through_a_category_visits_each_entry_once(suppression_store, limit):
    emails = [f"u{index}@example.com" for index in range(5)]
    for email in emails:
        suppression_store.put(left("digest", email=email))
        suppression_store.put(left("news", email=email))
        suppression_store.put(entry(HARD, email=email))
    seen: list[str] = []
    cursor = None
    while True:
        items, cursor = suppression_store.list(NOW, None, limit, cursor, "digest")
        assert {item.category for item in items} == {"digest"}
        seen += [item.email for item in items]
        if cursor is None:
            break

    assert sorted(seen) == emails


def test_a_cursor_of_another_category_is_refused(suppression_store):
    for index in range(3):
        suppression_store.put(left("digest", email=f"u{index}@example.com"))
        suppression_store.put(entry(HARD, email=f"u{index}@example.com"))
    _, digest = suppression_store.list(NOW, None, 1, None, "digest")
    _, hard = suppression_store.list(NOW, HARD, 1, None)

    with pytest.raises(InvalidCursor):
        suppression_store.list(NOW, None, 10, digest, "news")
    with pytest.raises(InvalidCursor):
        suppression_store.list(NOW, HARD, 10, hard, "digest")
