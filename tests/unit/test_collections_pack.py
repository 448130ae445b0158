"""Rule packs are versioned, validated data that reload without a restart."""

import hashlib
import os
import shutil
from datetime import time

import pytest
from test_collections_support import ANSWERED, CN, at, borrower, called, check

from lendcore.collections.loader import compliance_dir, get_pack, load_pack_file, load_packs
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


def test_cn_quiet_hours_default_is_stricter_than_its_recorded_legal_bound():
    quiet = CN.pack.rules.quiet_hours
    assert (quiet.start, quiet.end) == (time(21), time(8))
    assert quiet.legal_bound is not None and quiet.legal_bound.start == time(22)


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
        ("start: '21:00'", "start: '22:30'", "laxer than the legal bound"),
        ("    max: 6\n", "    max: 7\n", "above the legal maximum"),
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
        "    max: 3\n    legal_max: 3\n", "    max: 2\n    legal_max: 3\n"
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
