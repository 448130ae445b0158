"""Rules as data, edited through the API: decision policies (JDM) and compliance packs (YAML).

An edit is validated exactly as a file edit would be at load time (schema, lint, compile) and
only then written over the file, atomically; the next decision or gate check uses it, with no
restart. A bad edit is a 422 and changes nothing. Every edit is appended to the audit chain with
the operator, the note and the old and new version hashes; every version of either kind stays in
its version store (``var/policy-versions``, ``var/pack-versions``), so decisions made under an
old policy still replay and the exact pack an old gate check used can still be read
(``lendcore collections pack show --version cn@<sha256>``). A pack laxer than its jurisdiction's
statutory bounds (fixed in code) is refused ``PACK_BEYOND_LEGAL_BOUND``.

Files are the source of truth (one node, or a shared policies directory); the operator is taken
from the body — like the collections endpoints, there is no authentication yet
(docs/concepts/collections.md, "Limits, stated").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from lendcore.api.decisions import service_for
from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.loader import compliance_dir, load_pack_file, replace_pack_file
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.store.db import UnitOfWork

router = APIRouter(prefix="/api/rules", tags=["rules"])


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: str = Field(min_length=1, max_length=64, description="who made the edit")
    note: str = Field(min_length=1, max_length=500, description="why (kept in the audit chain)")


class PolicyEdit(_Edit):
    document: dict[str, Any] = Field(
        description="the whole JDM graph (as the GoRules editor saves it)"
    )


class PackEdit(_Edit):
    yaml: str = Field(min_length=1, max_length=200_000, description="the whole pack, as YAML")


def _pack_path(request: Request, code: str) -> Path:
    directory = getattr(request.app.state, "compliance_dir", None) or compliance_dir()
    if not code.replace("-", "").replace("_", "").isalnum():
        raise ValidationError(ErrorCode.UNKNOWN_PACK, f"not a pack code: {code!r}")
    return Path(directory) / f"{code}.yaml"


def _audit(request: Request, kind: str, edit: _Edit, **payload: Any) -> None:
    with UnitOfWork(request.app.state.engine) as uow:
        append(
            uow.connection,
            [AuditEntry(SystemClock().now(), kind, edit.operator, {"note": edit.note, **payload})],
        )
        uow.commit()


@router.get("/decision/{key}", summary="决策策略 / A decision policy: its version and JDM graph")
def get_policy(key: str, request: Request) -> dict[str, Any]:
    store = service_for(request.app).engine.store
    version = store.current(key)
    path = store.directory / f"{key}.json"
    return {"key": key, "version": version.hash, "document": json.loads(path.read_bytes())}


@router.put(
    "/decision/{key}",
    summary="修改决策策略 / Replace a decision policy (validated, then live without a restart)",
)
def put_policy(key: str, edit: PolicyEdit, request: Request) -> dict[str, Any]:
    store = service_for(request.app).engine.store
    before = store.current(key).hash
    raw = json.dumps(edit.document, ensure_ascii=False, indent=2).encode("utf-8")
    after = store.replace(key, raw).hash
    _audit(request, "rules.decision_policy", edit, key=key, old_version=before, new_version=after)
    return {"key": key, "old_version": before, "version": after}


@router.post(
    "/decision/{key}/candidates",
    status_code=201,
    summary="登记候选策略 / Register a candidate policy version (not live) for a challenger arm",
)
def post_candidate(key: str, edit: PolicyEdit, request: Request) -> dict[str, Any]:
    """Validated and kept in the version store, the file untouched: pin the returned version on
    an experiment arm (``models/experiment.json``: ``"policies": {key: version}``) to run it on
    that arm's share of applications."""
    store = service_for(request.app).engine.store
    version = store.register(key, json.dumps(edit.document, ensure_ascii=False, indent=2).encode())
    _audit(request, "rules.decision_candidate", edit, key=key, version=version.hash)
    return {"key": key, "version": version.hash, "live": False}


@router.get("/compliance/{code}", summary="合规规则包 / A compliance pack: its version and YAML")
def get_pack(code: str, request: Request) -> dict[str, Any]:
    path = _pack_path(request, code)
    compiled = load_pack_file(path)
    return {"code": code, "version": compiled.version_hash, "yaml": path.read_text("utf-8")}


@router.put(
    "/compliance/{code}",
    summary="修改合规规则包 / Replace a compliance pack (validated, then live without a restart)",
)
def put_pack(code: str, edit: PackEdit, request: Request) -> dict[str, Any]:
    path = _pack_path(request, code)
    before = load_pack_file(path).version_hash
    after = replace_pack_file(path, edit.yaml.encode("utf-8")).version_hash
    _audit(request, "rules.compliance_pack", edit, code=code, old_version=before, new_version=after)
    return {"code": code, "old_version": before, "version": after}
