"""Rule packs are versioned, validated data that reload without a restart."""

import hashlib
import os
import shutil
from datetime import time

import pytest
from test_collections_support import ANSWERED, CN, at, borrower, called, check

from lendcore.collections.legal_bounds import BOUNDS, breaches
from lendcore.collections.loader import (
    compliance_dir,
    get_pack,
    load_pack_file,
    load_packs,
    pack_version_text,
    replace_pack_file,
)
from lendcore.kernel.errors import ErrorCode, ValidationError

SHIPPED = compliance_dir()


def test_both_shipped_packs_load_with_the_sha256_of_their_bytes_as_version():
    packs = load_packs()
    assert set(packs) == {"cn", "us-regf"}
    for code, pack in packs.items():
        digest = hashlib.sha256((SHIPPED / f"{code}.yaml").read_bytes()).hexdigest()
        assert pack.version_hash == digest
        assert pack.version == f"{code}@{digest}"


def test_cn_is_the_default_pack():
    assert get_pack().code == "cn"


@pytest.mark.parametrize("code", ["cn", "us-regf"])
def test_every_rule_names_its_source_and_effective_date(code):
    rules = get_pack(code).pack.rules
    present = [getattr(rules, name) for name in type(rules).model_fields]
    for rule in filter(None, present):
        assert len(rule.source) > 10 and rule.effective_from.year >= 2021


def test_cn_quiet_hours_default_is_stricter_than_the_fixed_legal_bound():
    quiet = CN.pack.rules.quiet_hours
    assert (quiet.start, quiet.end) == (time(21), time(8))
    law = BOUNDS["CN"].quiet
    assert (law.start, law.end) == (time(22), time(8)) and "GB/T 45251-2025" in law.source


@pytest.mark.parametrize("code", ["cn", "us-regf"])
def test_every_shipped_pack_is_within_its_jurisdictions_fixed_bounds(code):
    pack = get_pack(code).pack
    assert breaches(pack, BOUNDS[pack.jurisdiction]) == []


def _edited(tmp_path, old, new, code="cn"):
    text = (SHIPPED / f"{code}.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / f"{code}.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("    max: 3\n", "    max: 3\n    maximum: 2\n", "Extra inputs are not permitted"),
        ("start: '21:00'", "start: 21:00", "quoted 'HH:MM'"),
        ("  trigger_reason:\n", "  trigger_reasons:\n", "trigger_reason"),
        ("code: cn\n", "code: cn2\n", "must match the file name"),
        ("    effective_from: 2026-01-30\n", "\n", "effective_from"),
        ("emergency: {COLLECTION: never", "emergency: {COLLECTION: sometimes", "emergency"),
        (
            "    borrower_unreachable:\n      consecutive_unanswered: 3\n      invalid_number: true\n",
            "    borrower_unreachable: null\n",
            "must define unreachable",
        ),
    ],
)
def test_a_bad_edit_is_refused_with_the_reason(tmp_path, old, new, complaint):
    path = _edited(tmp_path, old, new)
    with pytest.raises(ValidationError) as caught:
        load_pack_file(path)
    assert caught.value.code is ErrorCode.INVALID_PACK
    assert complaint in caught.value.message


def test_an_edited_threshold_takes_effect_on_the_next_load_without_restart(tmp_path):
    path = tmp_path / "cn.yaml"
    shutil.copy(SHIPPED / "cn.yaml", path)
    before = get_pack("cn", tmp_path)
    assert get_pack("cn", tmp_path) is before  # unchanged file: the compiled pack is reused
    two_conversations = [called(at(f"2026-03-02 {h:02d}:00"), ANSWERED) for h in (9, 10)]
    assert check(borrower(at("2026-03-02 12:00")), two_conversations, pack=before).allowed

    text = path.read_text(encoding="utf-8").replace(
        "  debtor_daily_conversations:\n    max: 3\n",
        "  debtor_daily_conversations:\n    max: 2\n",
    )
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # coarse clocks

    after = get_pack("cn", tmp_path)
    assert after.version_hash != before.version_hash
    assert after.pack.rules.debtor_daily_conversations.max == 2
    result = check(borrower(at("2026-03-02 12:00")), two_conversations, pack=after)
    assert result.reasons == ("DEBTOR_DAILY_CAP",) and result.pack_version == after.version


def test_touching_a_pack_without_changing_it_keeps_its_version(tmp_path):
    path = tmp_path / "cn.yaml"
    shutil.copy(SHIPPED / "cn.yaml", path)
    before = get_pack("cn", tmp_path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert get_pack("cn", tmp_path) is before


@pytest.mark.parametrize("code", ["xx", "../cn", "CN", ""])
def test_an_unknown_pack_is_an_error(code):
    with pytest.raises(ValidationError) as caught:
        get_pack(code)
    assert caught.value.code is ErrorCode.UNKNOWN_PACK


# Each edit loosens (or removes) one statutory bound; the bound is not in the file, so deleting
# a line cannot remove it.
LAXER = [
    ("cn", "start: '21:00'", "start: '22:30'", "quiet_hours", "LAXER"),
    ("cn", "end: '08:00'", "end: '07:30'", "quiet_hours", "LAXER"),
    (
        "cn",
        "    channels: [call, sms]\n    source: >-\n      [S] NIFA",
        "    channels: [call]\n    source: >-\n      [S] NIFA",
        "quiet_hours",
        "NARROWER",
    ),
    ("cn", "    max: 3\n", "    max: 4\n", "debtor_daily_conversations", "LAXER"),
    ("cn", "    max: 6\n", "    max: 7\n", "number_daily_unanswered", "LAXER"),
    (
        "cn",
        '    parties: [borrower, contact]\n    source: "[S] 中国银行业协会',
        '    parties: [borrower]\n    source: "[S] 中国银行业协会',
        "number_daily_unanswered",
        "NARROWER",
    ),
    ("cn", "  number_daily_unanswered:\n", "  number_daily_unanswered_off:\n", None, None),
    ("cn", "    hours: 48\n", "    hours: 24\n", "contact_interval.hours", "LAXER"),
    (
        "cn",
        "consecutive_unanswered: 3",
        "consecutive_unanswered: 2",
        "contacts.borrower_unreachable.consecutive_unanswered",
        "LAXER",
    ),
    (
        "cn",
        "  overdue:\n    min_days_past_due: 1",
        "  overdue:\n    min_days_past_due: 0",
        None,
        None,
    ),
    ("us-regf", "start: '21:00'", "start: '21:30'", "quiet_hours", "LAXER"),
    ("us-regf", "    max: 7\n", "    max: 8\n", "weekly_cap", "LAXER"),
    (
        "us-regf",
        '    days: 7\n    channels: [call]\n    parties: [borrower]\n    source: "[P] '
        "12 CFR 1006.14(b)(2)(i)",
        "    days: 6\n    channels: [call]\n    parties: [borrower]\n"
        '    source: "[P] 12 CFR 1006.14(b)(2)(i)',
        "weekly_cap",
        "LAXER",
    ),
    (
        "us-regf",
        '    days: 7\n    channels: [call]\n    parties: [borrower]\n    source: "[P] '
        "12 CFR 1006.14(b)(2)(ii)",
        "    days: 6\n    channels: [call]\n    parties: [borrower]\n"
        '    source: "[P] 12 CFR 1006.14(b)(2)(ii)',
        "post_conversation_pause.days",
        "LAXER",
    ),
    ("us-regf", "    max: 1\n", "    max: 2\n", "contact_lifetime_cap", "LAXER"),
]


@pytest.mark.parametrize(("code", "old", "new", "rule", "problem"), LAXER)
def test_a_pack_laxer_than_its_fixed_legal_bound_is_refused(
    tmp_path, code, old, new, rule, problem
):
    path = _edited(tmp_path, old, new, code)
    with pytest.raises(ValidationError) as caught:
        load_pack_file(path)
    if rule is None:  # the schema itself refuses it (a section renamed away, DPD 0)
        assert caught.value.code is ErrorCode.INVALID_PACK
        return
    assert caught.value.code is ErrorCode.PACK_BEYOND_LEGAL_BOUND
    found = {(b["rule"], b["problem"]) for b in caught.value.details["breaches"]}
    assert (rule, problem) in found
    assert all(b["source"] for b in caught.value.details["breaches"])


def test_a_required_legal_limit_left_out_is_refused(tmp_path):
    text = (SHIPPED / "cn.yaml").read_text(encoding="utf-8")
    start = text.index("  number_daily_unanswered:\n")
    end = text.index("  agent_daily_cap:\n")
    path = tmp_path / "cn.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_pack_file(path)
    assert caught.value.code is ErrorCode.PACK_BEYOND_LEGAL_BOUND
    [breach] = caught.value.details["breaches"]
    assert (breach["rule"], breach["problem"]) == ("number_daily_unanswered", "MISSING")


def test_a_legal_field_in_the_file_is_refused_as_it_no_longer_binds(tmp_path):
    path = _edited(
        tmp_path,
        "    end: '08:00'\n",
        "    end: '08:00'\n    legal_bound: {start: '23:30', end: '08:00'}\n",
    )
    with pytest.raises(ValidationError) as caught:
        load_pack_file(path)
    assert caught.value.code is ErrorCode.INVALID_PACK
    assert caught.value.details["fields"] == ["quiet_hours.legal_bound"]


def test_a_pack_for_a_jurisdiction_without_fixed_bounds_is_refused(tmp_path):
    path = _edited(tmp_path, "jurisdiction: CN\n", "jurisdiction: XX\n")
    with pytest.raises(ValidationError) as caught:
        load_pack_file(path)
    assert caught.value.code is ErrorCode.UNKNOWN_JURISDICTION


def test_a_pack_stricter_than_the_law_loads(tmp_path):
    path = _edited(tmp_path, "start: '21:00'", "start: '20:00'")
    path.write_text(
        path.read_text(encoding="utf-8").replace("    max: 6\n", "    max: 4\n"), encoding="utf-8"
    )
    rules = load_pack_file(path).pack.rules
    assert rules.quiet_hours.start == time(20) and rules.number_daily_unanswered.max == 4


@pytest.fixture
def versions(tmp_path, monkeypatch):
    kept = tmp_path / "pack-versions"
    monkeypatch.setenv("LENDCORE_PACK_VERSIONS_DIR", str(kept))
    return kept


def test_every_pack_version_loaded_or_replaced_is_kept_by_its_hash(tmp_path, versions):
    path = tmp_path / "cn.yaml"
    shutil.copy(SHIPPED / "cn.yaml", path)
    first_raw = path.read_bytes()
    first = load_pack_file(path)
    edited = first_raw.replace(b"    max: 6\n", b"    max: 5\n", 1)
    second = replace_pack_file(path, edited)
    assert sorted(p.name for p in versions.iterdir()) == sorted(
        f"{v.version_hash}.yaml" for v in (first, second)
    )
    # The file now holds only the edit; the version an earlier check named is still readable.
    assert pack_version_text(first.version) == ("cn", first_raw)
    assert pack_version_text(second.version_hash) == ("cn", edited)


def test_a_kept_version_that_was_edited_is_refused(tmp_path, versions):
    pack = load_pack_file(shutil.copy(SHIPPED / "cn.yaml", tmp_path / "cn.yaml"))
    kept = versions / f"{pack.version_hash}.yaml"
    kept.write_bytes(kept.read_bytes().replace(b"max: 3", b"max: 2"))
    with pytest.raises(ValidationError) as caught:
        pack_version_text(pack.version)
    assert caught.value.code is ErrorCode.INVALID_PACK


@pytest.mark.parametrize("asked", ["cn@" + "0" * 64, "us-regf@{hash}", "cn@abc", "nonsense"])
def test_an_unknown_pack_version_is_an_error(tmp_path, versions, asked):
    pack = load_pack_file(shutil.copy(SHIPPED / "cn.yaml", tmp_path / "cn.yaml"))
    with pytest.raises(ValidationError) as caught:
        pack_version_text(asked.format(hash=pack.version_hash))
    assert caught.value.code is ErrorCode.UNKNOWN_PACK
