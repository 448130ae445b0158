"""Content-addressed version stores: every version of a rule file kept by the sha256 of its bytes.

Rules are data that change without a deploy (decision policies, compliance packs), and every
decision or gate check records the hash of the version it used. The file itself only holds the
current version, so each version is also written here, once, as ``<directory>/<hash><suffix>``:
an auditor can read the exact text a past record names, and a decision can be replayed under it.

Writes are atomic (temporary file, then rename) and idempotent (an existing version is never
rewritten); reads check the bytes still hash to their name, so an edited copy is refused rather
than shown as the past.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

_HASH = re.compile(r"^[0-9a-f]{64}$")


def digest_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class VersionMismatch(Exception):
    """A stored version's bytes no longer hash to its name (edited or damaged)."""


@dataclass(frozen=True)
class VersionStore:
    directory: Path
    suffix: str  # ".json", ".yaml": what the kept file is

    def path(self, digest: str) -> Path:
        if not _HASH.match(digest):
            raise ValueError(f"not a sha256 version hash: {digest!r}")
        return self.directory / f"{digest}{self.suffix}"

    def keep(self, digest: str, raw: bytes) -> None:
        """Keep ``raw`` as version ``digest`` (once). Raises OSError when it cannot be written:
        the caller refuses to use a version it could not keep."""
        if digest_of(raw) != digest:
            raise ValueError("the bytes do not hash to the version they are kept as")
        target = self.path(digest)
        if target.exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_bytes(raw)
        os.replace(temporary, target)

    def read(self, digest: str) -> bytes | None:
        """The bytes of version ``digest``; None when it was never kept here."""
        target = self.path(digest)
        if not target.is_file():
            return None
        raw = target.read_bytes()
        if digest_of(raw) != digest:
            raise VersionMismatch(f"stored version {digest[:12]} does not match its hash")
        return raw
