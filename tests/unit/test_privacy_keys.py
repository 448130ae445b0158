import json
import stat

import pytest

from lendcore.collections.contacts import default_key_provider
from lendcore.kernel.errors import ErrorCode
from lendcore.privacy.crypto import FieldCipher, parse_token
from lendcore.privacy.keys import (
    InMemoryKeyProvider,
    KmsKeyProvider,
    LocalKeyFileProvider,
    PrivacyError,
)

CONTEXT = "borrower.id_number:borrower=7"


@pytest.fixture
def key_file(tmp_path):
    return tmp_path / "keys" / "lendcore-keys.json"


def test_a_new_key_file_is_readable_by_its_owner_only(key_file):
    LocalKeyFileProvider.create(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_key_file_holds_a_current_256_bit_kek_and_a_separate_index_key(key_file):
    provider = LocalKeyFileProvider.create(key_file)
    document = json.loads(key_file.read_text())
    assert document["current_key_id"] == provider.current_key_id() == "kek-1"
    assert len(provider.index_key()) == 32
    assert document["index_key"] != document["keks"]["kek-1"]


def test_create_never_overwrites_existing_keys(key_file):
    LocalKeyFileProvider.create(key_file)
    before = key_file.read_bytes()
    with pytest.raises(PrivacyError) as caught:
        LocalKeyFileProvider.create(key_file)
    assert caught.value.code == ErrorCode.INVALID_KEY_FILE
    assert LocalKeyFileProvider.create(key_file, exist_ok=True).current_key_id() == "kek-1"
    assert key_file.read_bytes() == before


def test_a_rotated_key_file_decrypts_old_tokens_and_encrypts_with_the_new_kek(key_file):
    provider = LocalKeyFileProvider.create(key_file)
    old_token = FieldCipher(provider).encrypt("110101199003071234", context=CONTEXT)
    index_key = provider.index_key()
    assert provider.rotate() == "kek-2"
    reopened = FieldCipher(LocalKeyFileProvider(key_file))
    new_token = reopened.encrypt("110101199003071234", context=CONTEXT)
    assert parse_token(new_token).key_id == "kek-2"
    assert reopened.decrypt(old_token, context=CONTEXT) == "110101199003071234"
    assert LocalKeyFileProvider(key_file).index_key() == index_key  # indexes survive rotation
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_process_loaded_before_a_rotation_still_reads_tokens_made_after_it(key_file):
    LocalKeyFileProvider.create(key_file)
    stale = FieldCipher(LocalKeyFileProvider(key_file))
    rotating = LocalKeyFileProvider(key_file)
    rotating.rotate()
    token = FieldCipher(rotating).encrypt("13812341234", context=CONTEXT)
    assert stale.decrypt(token, context=CONTEXT) == "13812341234"


def test_two_rotations_from_stale_handles_both_keep_their_keys(key_file):
    LocalKeyFileProvider.create(key_file)
    first, second = LocalKeyFileProvider(key_file), LocalKeyFileProvider(key_file)
    first.rotate()
    second.rotate()
    assert LocalKeyFileProvider(key_file).key_ids() == ["kek-1", "kek-2", "kek-3"]


def test_a_key_file_other_users_can_read_is_refused(key_file):
    LocalKeyFileProvider.create(key_file)
    key_file.chmod(0o644)
    with pytest.raises(PrivacyError) as caught:
        LocalKeyFileProvider(key_file)
    assert caught.value.code == ErrorCode.INVALID_KEY_FILE


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": "lendcore-keys/1"}',
        '{"format": "lendcore-keys/1", "current_key_id": "kek-1", "keks": {"kek-1": "c2hvcnQ="},'
        ' "index_key": "c2hvcnQ="}',
    ],
)
def test_a_broken_key_file_is_refused_without_echoing_its_content(tmp_path, content):
    path = tmp_path / "keys.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(PrivacyError) as caught:
        LocalKeyFileProvider(path)
    assert caught.value.code == ErrorCode.INVALID_KEY_FILE
    assert "c2hvcnQ" not in str(caught.value.to_dict())


def test_a_missing_key_file_is_refused(key_file):
    with pytest.raises(PrivacyError) as caught:
        LocalKeyFileProvider(key_file)
    assert caught.value.code == ErrorCode.INVALID_KEY_FILE


def test_unwrapping_under_an_unknown_key_is_key_not_found():
    with pytest.raises(PrivacyError) as caught:
        InMemoryKeyProvider().unwrap("kek-9", b"\x00" * 60)
    assert caught.value.code == ErrorCode.KEY_NOT_FOUND


def test_the_kms_provider_is_a_stub_that_fails_closed():
    cipher = FieldCipher(KmsKeyProvider("kms://cn-shanghai/lendcore"))
    with pytest.raises(PrivacyError) as caught:
        cipher.encrypt("13812341234", context=CONTEXT)
    assert caught.value.code == ErrorCode.KMS_UNAVAILABLE
    assert "13812341234" not in str(caught.value.to_dict())


def test_the_kms_provider_without_a_key_uri_is_not_configured():
    with pytest.raises(PrivacyError) as caught:
        KmsKeyProvider("").index_key()
    assert caught.value.code == ErrorCode.KEY_PROVIDER_NOT_CONFIGURED


@pytest.mark.parametrize("setting", [None, "local", " LOCAL "])
def test_the_local_key_file_is_the_default_provider(tmp_path, monkeypatch, setting):
    monkeypatch.setenv("LENDCORE_KEY_FILE", str(tmp_path / "keys" / "k.json"))
    if setting is None:
        monkeypatch.delenv("LENDCORE_KEY_PROVIDER", raising=False)
    else:
        monkeypatch.setenv("LENDCORE_KEY_PROVIDER", setting)
    assert isinstance(default_key_provider(), LocalKeyFileProvider)


def test_kms_is_selected_by_setting_with_its_key_uri(monkeypatch):
    monkeypatch.setenv("LENDCORE_KEY_PROVIDER", "kms")
    monkeypatch.setenv("LENDCORE_KMS_KEY_URI", "kms://cn-shanghai/lendcore")
    provider = default_key_provider()
    assert isinstance(provider, KmsKeyProvider)
    assert provider.key_uri == "kms://cn-shanghai/lendcore"


def test_an_unknown_key_provider_setting_is_refused_not_defaulted(monkeypatch):
    monkeypatch.setenv("LENDCORE_KEY_PROVIDER", "vault")
    with pytest.raises(PrivacyError) as caught:
        default_key_provider()
    assert caught.value.code == ErrorCode.KEY_PROVIDER_NOT_CONFIGURED
