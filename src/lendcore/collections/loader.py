"""Loading compliance packs from ``policies/compliance``: validation, version hash, hot reload.

Legal staff change a threshold by editing the file (or through ``PUT /api/rules/compliance/{code}``,
which validates before it writes: :func:`replace_pack_file`). The next load sees the change without a
restart: a pack is cached per path together with the file's (mtime, size, inode) and re-read when
any of them moves; a re-read whose bytes hash the same keeps the compiled pack.

Every pack is checked against its jurisdiction's statutory bounds, fixed in code
(:mod:`lendcore.collections.legal_bounds`), not only against its schema.

Every version loaded or written is kept by its hash in the pack version store
(``var/pack-versions/<sha256>.yaml``, or ``$LENDCORE_PACK_VERSIONS_DIR``; the same mechanism as
decision policies, :mod:`lendcore.store.versions`): a ``gate.check`` audit record names
``cn@<sha256>``, and :func:`pack_version_text` gives back the exact rules it was judged under
after any later edit. A version that cannot be kept is not used (the gate then denies).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as SchemaError

from lendcore.collections.legal_bounds import BOUNDS, bounds_for, breaches
from lendcore.collections.model import DEFAULT_PACK
from lendcore.collections.pack import CompiledPack, RulePack, compile_pack
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.products.loader import policies_dir
from lendcore.store.versions import VersionMismatch, VersionStore

DEFAULT_VERSIONS_DIR = Path("var/pack-versions")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def compliance_dir() -> Path:
    return policies_dir() / "compliance"


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, int, int]
    compiled: CompiledPack
    kept_in: Path  # the version store it was kept in (a test or a restart may point elsewhere)


_cache: dict[Path, _Cached] = {}
_lock = threading.Lock()


def load_pack_file(path: Path) -> CompiledPack:
    """Validate and compile one pack file (cached until the file changes)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ValidationError(
            ErrorCode.UNKNOWN_PACK, f"cannot read {path.name}: {exc.strerror}", {"file": str(path)}
        ) from None
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    cached = _cache.get(path)
    versions = pack_versions_dir()
    if cached is not None and cached.stamp == stamp and cached.kept_in == versions:
        return cached.compiled
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if cached is not None and cached.compiled.version_hash == digest:
        compiled = cached.compiled  # touched, not changed
    else:
        compiled = compile_pack(_parse(raw, path), digest)
    _keep(digest, raw, versions)  # a no-op when already kept
    with _lock:
        _cache[path] = _Cached(stamp, compiled, versions)
    return compiled


def replace_pack_file(path: Path, raw: bytes) -> CompiledPack:
    """Validate and compile ``raw`` as the pack at ``path`` and only then write it over the
    file, atomically: legal staff's edit through the API takes effect on the next gate check (the
    file's change is seen by :func:`load_pack_file`), and an invalid edit changes nothing."""
    if not path.is_file():
        raise ValidationError(ErrorCode.UNKNOWN_PACK, f"no pack {path.stem!r}", {"file": str(path)})
    compiled = compile_pack(_parse(raw, path), hashlib.sha256(raw).hexdigest())
    _keep(compiled.version_hash, raw)  # before it is live: every live version is readable later
    temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(raw)
    os.replace(temporary, path)
    return compiled


def pack_versions_dir() -> Path:
    configured = os.environ.get("LENDCORE_PACK_VERSIONS_DIR")
    return Path(configured) if configured else DEFAULT_VERSIONS_DIR


def _keep(digest: str, raw: bytes, versions: Path | None = None) -> None:
    try:
        VersionStore(versions or pack_versions_dir(), ".yaml").keep(digest, raw)
    except OSError as exc:
        # A gate check names its pack version; a version nobody can read back is not used.
        raise LendcoreError(
            ErrorCode.PACK_VERSION_NOT_KEPT, f"cannot keep pack version {digest[:12]}: {exc}"
        ) from None


def pack_version_text(version: str) -> tuple[str | None, bytes]:
    """The exact bytes of a pack version, named ``<code>@<sha256>`` (as audit records carry it)
    or by the bare sha256; returns (the code named, if any, the bytes). Refused when unknown or
    when the kept copy no longer matches its hash."""
    code, _, digest = version.rpartition("@")
    if not _SHA256.match(digest):
        raise ValidationError(
            ErrorCode.UNKNOWN_PACK, f"not a pack version: {version!r}", {"version": version}
        )
    try:
        raw = VersionStore(pack_versions_dir(), ".yaml").read(digest)
    except VersionMismatch as exc:
        raise ValidationError(ErrorCode.INVALID_PACK, str(exc), {"version": digest}) from None
    if raw is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_PACK,
            f"no kept pack version {digest[:12]} in {pack_versions_dir()}",
            {"version": digest},
        )
    document = yaml.safe_load(raw)
    kept_code = document.get("code") if isinstance(document, dict) else None
    if code and kept_code != code:
        raise ValidationError(
            ErrorCode.UNKNOWN_PACK,
            f"version {digest[:12]} is of pack {kept_code!r}, not {code!r}",
            {"version": digest},
        )
    return kept_code, raw


def _parse(raw: bytes, path: Path) -> RulePack:
    try:
        document = yaml.safe_load(raw)
        _no_legal_fields(document, path)
        pack = RulePack.model_validate(document)
    except (yaml.YAMLError, SchemaError) as exc:
        raise ValidationError(
            ErrorCode.INVALID_PACK, f"{path.name}: {_summary(exc)}", {"file": str(path)}
        ) from None
    _within_law(pack, path)
    if pack.code != path.stem:
        # The file name is how a pack is asked for; a mismatch would record the wrong version.
        raise ValidationError(
            ErrorCode.INVALID_PACK,
            f"{path.name}: code {pack.code!r} must match the file name {path.stem!r}",
            {"file": str(path)},
        )
    return pack


def _no_legal_fields(document: Any, path: Path) -> None:
    """Packs once carried ``legal_bound``/``legal_max``/``legal_min_*`` beside each threshold;
    the bounds now live in code. Say so plainly instead of a bare "extra inputs" error, so a
    reader never believes the line still binds anything."""
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, dict):
        return
    found = sorted(
        f"{name}.{field}"
        for name, rule in rules.items()
        if isinstance(rule, dict)
        for field in rule
        if str(field).startswith("legal_")
    )
    if found:
        raise ValidationError(
            ErrorCode.INVALID_PACK,
            f"{path.name}: {', '.join(found)}: legal_* fields are no longer read -- the "
            "statutory bounds are fixed in code (collections/legal_bounds.py); delete the line "
            "/ 法定界限已固定在代码中，请删除该行",
            {"file": str(path), "fields": found},
        )


def _within_law(pack: RulePack, path: Path) -> None:
    """Refuse a pack laxer than its jurisdiction's statutory bounds (fixed in code, not in the
    file), or for a jurisdiction whose bounds nobody has written down."""
    law = bounds_for(pack.jurisdiction)
    if law is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_JURISDICTION,
            f"{path.name}: no statutory bounds are defined for jurisdiction "
            f"{pack.jurisdiction!r} / 未定义该司法辖区的法定界限",
            {"file": str(path), "jurisdiction": pack.jurisdiction, "known": sorted(BOUNDS)},
        )
    found = breaches(pack, law)
    if found:
        summary = "; ".join(f"{b.rule}: {b.problem} (law: {b.bound})" for b in found)
        raise ValidationError(
            ErrorCode.PACK_BEYOND_LEGAL_BOUND,
            f"{path.name} is laxer than the law / 规则包宽于法定界限: {summary}",
            {
                "file": str(path),
                "jurisdiction": law.code,
                "breaches": [b.as_dict() for b in found],
            },
        )


def get_pack(code: str = DEFAULT_PACK, directory: Path | None = None) -> CompiledPack:
    directory = directory or compliance_dir()
    known = _codes(directory)
    if code not in known:
        raise ValidationError(
            ErrorCode.UNKNOWN_PACK, f"no compliance pack {code!r}", {"known": known}
        )
    return load_pack_file(directory / f"{code}.yaml")


def load_packs(directory: Path | None = None) -> dict[str, CompiledPack]:
    directory = directory or compliance_dir()
    return {code: load_pack_file(directory / f"{code}.yaml") for code in _codes(directory)}


def _codes(directory: Path) -> list[str]:
    # Listing the directory (rather than joining a user-given name onto it) keeps a code such as
    # "../x" from reaching the file system.
    return sorted(path.stem for path in directory.glob("*.yaml"))


def _summary(exc: Exception) -> str:
    if isinstance(exc, SchemaError):
        parts = []
        for error in exc.errors()[:3]:
            where = ".".join(str(p) for p in error["loc"]) or "(top)"
            parts.append(f"{where}: {error['msg']}")
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    lines = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in lines[:3])
