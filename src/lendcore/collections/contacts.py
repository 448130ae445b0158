"""Contact points encrypted at rest.

A contact point is the borrower's own number (``contact_id = 'self'``) or a third party the
borrower named. Phone and name are stored only as :class:`~lendcore.privacy.crypto.FieldCipher`
tokens whose context binds them to their row (``contact.phone:<borrower>:<contact_id>``), so a
token copied to another row does not decrypt; the phone also as a blind index (look-ups) and
masked (what screens show).

Plaintext leaves the database only through a grant the gate service issued for one allowed
attempt (:mod:`lendcore.collections.grants`), and goes to the dialer port
(:mod:`lendcore.collections.dialling`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, update

from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.model import ContactScope
from lendcore.collections.tables import collection_contacts
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.privacy.crypto import FieldCipher, IndexKind, blind_index
from lendcore.privacy.keys import KeyProvider, KmsKeyProvider, LocalKeyFileProvider, PrivacyError
from lendcore.privacy.masking import mask_phone

SELF = "self"  # the contact_id of the borrower's own number
DEFAULT_KEY_FILE = Path("var/keys/lendcore-keys.json")


def key_file() -> Path:
    return Path(os.environ.get("LENDCORE_KEY_FILE") or DEFAULT_KEY_FILE)


KEY_PROVIDERS = ("local", "kms")


def default_key_provider() -> KeyProvider:
    """The key provider ``$LENDCORE_KEY_PROVIDER`` selects (default ``local``):

    - ``local``: the local key file (``$LENDCORE_KEY_FILE`` or var/keys/), created 0600 on first
      use;
    - ``kms``: :class:`~lendcore.privacy.keys.KmsKeyProvider` for ``$LENDCORE_KMS_KEY_URI`` -- a
      port with no production adapter shipped, so it fails closed on first use.

    Any other value is refused: a typo must never fall back to a weaker provider silently."""
    choice = (os.environ.get("LENDCORE_KEY_PROVIDER") or "local").strip().lower()
    if choice == "kms":
        return KmsKeyProvider(os.environ.get("LENDCORE_KMS_KEY_URI", "").strip())
    if choice != "local":
        raise PrivacyError(
            ErrorCode.KEY_PROVIDER_NOT_CONFIGURED,
            f"LENDCORE_KEY_PROVIDER={choice!r} is not one of {', '.join(KEY_PROVIDERS)}",
            {"provider": choice, "known": list(KEY_PROVIDERS)},
        )
    return local_key_provider()


def local_key_provider() -> LocalKeyFileProvider:
    """The local key file (``$LENDCORE_KEY_FILE`` or var/keys/), created 0600 on first use."""
    path = key_file()
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    return LocalKeyFileProvider.create(path, exist_ok=True)


def phone_context(borrower_id: int, contact_id: str) -> str:
    return f"contact.phone:{borrower_id}:{contact_id}"


def name_context(borrower_id: int, contact_id: str) -> str:
    return f"contact.name:{borrower_id}:{contact_id}"


@dataclass(frozen=True)
class ContactPoint:
    borrower_id: int
    contact_id: str  # SELF for the borrower's own number
    relation: str  # self | spouse | parent | sibling | friend | colleague ...
    phone: str
    name: str
    consent_scope: ContactScope | None = None  # required for a third party
    consent_at: datetime | None = None  # when the borrower gave it (required for a third party)
    loan_id: int | None = None  # None: the contact serves every loan of the borrower


@dataclass
class Vault:
    """The cipher and index key contact data is protected with."""

    cipher: FieldCipher
    index_key: bytes

    @classmethod
    def from_provider(cls, provider: KeyProvider) -> Vault:
        return cls(FieldCipher(provider), provider.index_key())


def store_contact(
    connection: Connection, vault: Vault, contact: ContactPoint, at: datetime, actor: str
) -> None:
    """Encrypt and insert one contact point (audited, without any personal data)."""
    store_contacts(connection, vault, [contact], at, actor)


def _check(contact: ContactPoint) -> None:
    if not contact.contact_id or len(contact.contact_id) > 40:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "contact_id must be 1-40 characters")
    is_self = contact.contact_id == SELF
    if is_self != (contact.relation == SELF):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "contact_id 'self' and relation 'self' go together"
        )
    if not is_self and (contact.consent_scope is None or contact.consent_at is None):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "a third party needs a consent scope and consent time"
        )
    if contact.consent_at is not None and contact.consent_at.utcoffset() is None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "consent_at must carry an offset")


def _row(vault: Vault, contact: ContactPoint, at: datetime) -> dict[str, Any]:
    b, c = contact.borrower_id, contact.contact_id
    return {
        "borrower_id": b,
        "contact_id": c,
        "loan_id": contact.loan_id,
        "relation": contact.relation,
        "consent_scope": None if contact.consent_scope is None else str(contact.consent_scope),
        "consent_at": None if contact.consent_at is None else contact.consent_at.astimezone(UTC),
        "consent_withdrawn_at": None,
        "phone_token": vault.cipher.encrypt(contact.phone, context=phone_context(b, c)),
        "name_token": vault.cipher.encrypt(contact.name, context=name_context(b, c)),
        "phone_index": blind_index(contact.phone, vault.index_key, kind=IndexKind.PHONE),
        "phone_masked": mask_phone(contact.phone),
        "created_at": at.astimezone(UTC),
    }


def _stored(contact: ContactPoint, at: datetime, actor: str) -> AuditEntry:
    return AuditEntry(
        at,
        "contact.stored",
        actor,
        {
            "borrower_id": contact.borrower_id,
            "contact_id": contact.contact_id,
            "relation": contact.relation,
            "consent_scope": None if contact.consent_scope is None else str(contact.consent_scope),
            "loan_id": contact.loan_id,
        },
    )


def store_contacts(
    connection: Connection,
    vault: Vault,
    contacts: Sequence[ContactPoint],
    at: datetime,
    actor: str,
) -> None:
    """Encrypt and insert contact points: one multi-row insert and one audit append (a record
    per contact point, without any personal data). Every point is validated before anything is
    written, so a bad one stores none."""
    for contact in contacts:
        _check(contact)
    if not contacts:
        return
    connection.execute(insert(collection_contacts), [_row(vault, c, at) for c in contacts])
    append(connection, [_stored(c, at, actor) for c in contacts])


def withdraw_consent(
    connection: Connection, borrower_id: int, contact_id: str, at: datetime, actor: str
) -> None:
    """PIPL Art. 15: consent is withdrawable; from ``at`` on the gate denies NO_CONSENT."""
    done = connection.execute(
        update(collection_contacts)
        .where(
            collection_contacts.c.borrower_id == borrower_id,
            collection_contacts.c.contact_id == contact_id,
        )
        .values(consent_withdrawn_at=at.astimezone(UTC))
    ).rowcount
    if not done:
        raise ValidationError(
            ErrorCode.UNKNOWN_CONTACT, f"borrower {borrower_id} has no contact {contact_id!r}"
        )
    append(
        connection,
        [
            AuditEntry(
                at,
                "contact.consent_withdrawn",
                actor,
                {"borrower_id": borrower_id, "contact_id": contact_id},
            )
        ],
    )
