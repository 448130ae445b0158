"""Product versions kept by hash, so a record priced with a product can be re-priced with the
same product after the file changed.

A decision's offer and a loan carry ``product_version``, the sha256 of the product file's bytes.
:meth:`ProductVersionStore.keep` writes those bytes to ``var/product-versions/<hash>.yaml``
(``$LENDCORE_PRODUCT_VERSIONS_DIR``; atomically, once), and :meth:`ProductVersionStore.version`
loads exactly that version later, re-validated and checked against its hash -- the content-addressed
store the decision policies and compliance packs use too (:mod:`lendcore.store.versions`).

Keep a product *before* anything priced with it is recorded: whoever cannot keep the version
should not make the record (a record that cannot be replayed is refused, fail-closed). Restoring
a lost version from git: ``git show <commit>:policies/products/<code>.yaml >
var/product-versions/<hash>.yaml`` (the hash is checked on load).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.products.loader import LoadedProduct, load_product_bytes
from lendcore.store.versions import VersionMismatch, VersionStore, digest_of

DEFAULT_VERSIONS_DIR = Path("var/product-versions")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def product_versions_dir() -> Path:
    configured = os.environ.get("LENDCORE_PRODUCT_VERSIONS_DIR")
    return Path(configured) if configured else DEFAULT_VERSIONS_DIR


class ProductVersionStore:
    """Every product version kept, by hash; loaded versions are cached in memory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or product_versions_dir()
        self._store = VersionStore(self.directory, ".yaml")
        self._lock = threading.Lock()
        self._known: dict[str, LoadedProduct] = {}

    def keep(self, loaded: LoadedProduct) -> LoadedProduct:
        """Keep ``loaded``'s bytes under its hash (once); returns it."""
        if loaded.version_hash in self._known:
            return loaded
        raw = loaded.raw or loaded.path.read_bytes()
        if digest_of(raw) != loaded.version_hash:
            raise ValidationError(
                ErrorCode.INVALID_PRODUCT,
                f"{loaded.path.name} changed since it was loaded: reload the products",
                {"product": loaded.product.code, "version": loaded.version_hash},
            )
        try:
            self._store.keep(loaded.version_hash, raw)
        except OSError as exc:
            raise ValidationError(
                ErrorCode.INVALID_PRODUCT,
                f"cannot keep product version {loaded.version_hash[:12]}: {exc}",
                {"product": loaded.product.code, "directory": str(self.directory)},
            ) from None
        with self._lock:
            self._known[loaded.version_hash] = loaded
        return loaded

    def keep_all(self, products: Iterable[LoadedProduct]) -> None:
        for loaded in products:
            self.keep(loaded)

    def version(self, code: str, digest: str) -> LoadedProduct:
        """Product ``code`` exactly as it was at version ``digest``."""
        if not isinstance(digest, str) or not _HASH.match(digest):
            raise ValidationError(
                ErrorCode.UNKNOWN_PRODUCT,
                f"not a product version: {digest!r}",
                {"product": code, "version": str(digest)},
            )
        loaded = self._known.get(digest)
        if loaded is None:
            loaded = self._read(code, digest)
        if loaded.product.code != code:
            raise ValidationError(
                ErrorCode.UNKNOWN_PRODUCT,
                f"version {digest[:12]} is product {loaded.product.code!r}, not {code!r}",
                {"product": code, "version": digest},
            )
        return loaded

    def _read(self, code: str, digest: str) -> LoadedProduct:
        try:
            raw = self._store.read(digest)
        except VersionMismatch:
            raise ValidationError(
                ErrorCode.INVALID_PRODUCT,
                f"stored product version {digest[:12]} does not match its hash",
                {"product": code, "version": digest},
            ) from None
        if raw is None:
            raise ValidationError(
                ErrorCode.UNKNOWN_PRODUCT,
                f"no version {digest[:12]} of product {code!r} in {self.directory}",
                {"product": code, "version": digest},
            )
        stored = self._store.path(digest)
        loaded = load_product_bytes(raw, stored)
        with self._lock:
            self._known[digest] = loaded
        return loaded
