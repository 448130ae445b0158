import dataclasses
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.privacy.chain import (
    GENESIS_HASH,
    GENESIS_HEAD,
    ChainHead,
    ChainProblem,
    head,
    link,
    record_hash,
    verify,
)

AT = "2026-03-02T09:15:00+08:00"


def build(count, start=None):
    records = [] if start is None else list(start)
    for n in range(count):
        prev = records[-1] if records else None
        payload = {"loan_id": f"L{n}", "amount": 100 * n, "note": "催收提醒"}
        records.append(link(prev, at=AT, kind="contact.attempt", actor="agent-7", payload=payload))
    return records


def rehash(record, prev_hash=None):
    """What an attacker with database access does after editing a record."""
    prev_hash = record.prev_hash if prev_hash is None else prev_hash
    content = (record.seq, record.at, record.kind, record.actor, record.payload, prev_hash)
    return dataclasses.replace(record, prev_hash=prev_hash, hash=record_hash(*content))


def relink(records):
    """A full rewrite: every hash recomputed so the chain is consistent again."""
    out = []
    for record in records:
        out.append(rehash(record, prev_hash=out[-1].hash if out else GENESIS_HASH))
    return out


def assert_caught(result, problem, seq):
    assert (result.ok, result.problem, result.first_bad_seq) == (False, problem, seq)


def test_the_genesis_record_is_seq_1_linked_to_64_zeros():
    first = build(1)[0]
    assert (first.seq, first.prev_hash) == (1, "0" * 64)


def test_a_record_hash_is_sha256_of_canonical_json_of_its_content():
    record = build(1)[0]
    content = {
        "seq": 1,
        "at": AT,
        "kind": "contact.attempt",
        "actor": "agent-7",
        "payload": {"loan_id": "L0", "amount": 0, "note": "催收提醒"},
        "prev_hash": GENESIS_HASH,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert record.hash == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_each_record_links_to_the_previous_hash():
    records = build(3)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[2].prev_hash == records[1].hash


def test_an_untouched_chain_verifies_up_to_its_head():
    records = build(5)
    result = verify(records, anchors=[head(records[:3]), head(records)])
    assert result.ok and result.problem is None and result.verified == head(records)


def test_an_empty_chain_is_valid_and_its_head_is_genesis():
    assert head([]) == GENESIS_HEAD == (0, GENESIS_HASH)
    assert verify([]).ok


def test_an_edited_payload_is_caught_at_its_seq():
    records = build(5)
    records[2] = dataclasses.replace(records[2], payload={**records[2].payload, "amount": 1})
    result = verify(records)
    assert_caught(result, ChainProblem.EDITED, 3)
    assert result.verified == ChainHead(2, records[1].hash)


def test_an_edited_hash_is_caught_at_its_seq():
    records = build(5)
    records[3] = dataclasses.replace(records[3], hash="f" * 64)
    assert_caught(verify(records), ChainProblem.EDITED, 4)


def test_an_edit_rehashed_to_look_consistent_breaks_the_next_link():
    records = build(5)
    records[2] = rehash(dataclasses.replace(records[2], actor="someone-else"))
    assert_caught(verify(records), ChainProblem.BROKEN_LINK, 4)


def test_a_deleted_record_is_a_gap_at_its_seq():
    records = build(5)
    del records[2]
    assert_caught(verify(records), ChainProblem.SEQ_GAP, 3)


def test_an_inserted_record_is_caught_where_its_seq_repeats():
    records = build(5)
    forged = link(records[1], at=AT, kind="contact.attempt", actor="agent-7", payload={"x": 1})
    records.insert(2, forged)  # claims seq 3, linked and hashed correctly
    assert_caught(verify(records), ChainProblem.DUPLICATE_SEQ, 3)


def test_an_inserted_record_with_the_rest_renumbered_breaks_a_hash():
    records = build(5)
    forged = link(records[1], at=AT, kind="contact.attempt", actor="agent-7", payload={"x": 1})
    shifted = [dataclasses.replace(r, seq=r.seq + 1) for r in records[2:]]
    assert_caught(verify([*records[:2], forged, *shifted]), ChainProblem.EDITED, 4)


def test_two_swapped_records_are_reported_as_reordered():
    records = build(5)
    records[1], records[2] = records[2], records[1]
    assert_caught(verify(records), ChainProblem.REORDERED, 2)


def test_two_swapped_payloads_are_caught_as_an_edit():
    records = build(5)
    a, b = records[1], records[2]
    records[1] = dataclasses.replace(a, payload=b.payload)
    records[2] = dataclasses.replace(b, payload=a.payload)
    assert_caught(verify(records), ChainProblem.EDITED, 2)


def test_a_consistent_rewrite_is_only_caught_by_an_anchor():
    records = build(6)
    anchor_early, anchor = head(records[:2]), head(records)
    rewritten = relink(
        [*records[:3], *(dataclasses.replace(r, payload={"gone": True}) for r in records[3:])]
    )
    assert verify(rewritten).ok  # the chain alone cannot tell
    result = verify(rewritten, anchors=[anchor_early, anchor])
    assert_caught(result, ChainProblem.ANCHOR_MISMATCH, 6)
    assert result.verified == anchor_early


def test_a_truncated_and_rewritten_tail_is_caught_by_an_anchor_past_the_end():
    records = build(6)
    anchor = head(records)
    rewritten = relink([*records[:3], dataclasses.replace(records[3], payload={"settled": True})])
    assert verify(rewritten).ok
    assert_caught(verify(rewritten, anchors=[anchor]), ChainProblem.TRUNCATED, 5)


def test_a_long_chain_verifies_page_by_page_from_the_previous_head():
    records = build(6)
    first = verify(records[:3])
    assert verify(records[3:], after=first.verified, anchors=[head(records)]).ok
    assert_caught(verify(records[4:], after=first.verified), ChainProblem.SEQ_GAP, 4)


def test_the_stored_payload_is_what_was_hashed_not_the_callers_dict():
    payload = {"amounts": (1, 2), "nested": {"a": 1}}
    record = link(None, at=AT, kind="k", actor="a", payload=payload)
    payload["nested"]["a"] = 2
    assert record.payload == {"amounts": [1, 2], "nested": {"a": 1}}
    assert verify([record]).ok


@pytest.mark.parametrize(
    "bad",
    [
        {"at": "2026-03-02T09:15:00"},  # no offset
        {"at": "yesterday"},
        {"kind": ""},
        {"actor": ""},
        {"payload": {"rate": float("nan")}},
        {"payload": {"when": object()}},
        {"payload": {1: "not text"}},
    ],
)
def test_content_that_cannot_be_hashed_unambiguously_is_refused(bad):
    fields = {"at": AT, "kind": "k", "actor": "a", "payload": {}} | bad
    with pytest.raises(ValidationError) as caught:
        link(None, **fields)
    assert caught.value.code == ErrorCode.INVALID_ARGUMENT


def _mutations():
    text_fields = st.sampled_from(["at", "kind", "actor", "prev_hash", "hash"])
    return st.one_of(
        st.tuples(text_fields, st.text(min_size=1, max_size=8)),
        st.tuples(st.just("payload"), st.dictionaries(st.text(max_size=4), st.integers())),
        st.tuples(st.just("seq"), st.integers(-5, 50)),
    )


@settings(max_examples=100)
@given(size=st.integers(1, 8), data=st.data())
def test_any_single_field_change_is_caught_no_later_than_the_changed_record(size, data):
    records = build(size)
    index = data.draw(st.integers(0, size - 1))
    name, value = data.draw(_mutations())
    original = records[index]
    if getattr(original, name) == value:
        return
    records[index] = dataclasses.replace(original, **{name: value})
    result = verify(records)
    assert not result.ok
    assert result.verified.seq < original.seq
