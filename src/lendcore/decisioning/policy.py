"""Decision policies as data: JDM graphs in ``policies/decision`` run by the zen engine.

One :class:`zen.ZenEngine` per process evaluates every policy through a loader. zen calls the
loader on every evaluation and keeps nothing itself (checked against zen-engine 2.1.3), so the
:class:`PolicyStore` is the cache: each key resolves to a content-addressed *version* (sha256 of
the file's bytes) whose parsed :class:`zen.ZenDecisionContent` is kept in memory. A pre-parsed
content evaluates ~4x faster than JSON text handed to the engine each time.

Hot reload: every evaluation stats the file; a changed (mtime, size, inode) re-reads it. A file
written within :data:`RACY_NS` of when it was read is re-hashed on each use until it ages (git's
"racily clean" rule), so two edits inside one timestamp tick are not missed.

Replay: every version seen is also written to ``var/policy-versions/<hash>.json`` (atomically,
once), and ``evaluate(key, ctx, version=<hash>)`` evaluates exactly that version later.

Fail-closed loading: zen treats a cell it cannot compile as a rule that does not match, so a typo
would silently switch a REJECT rule off. Every version is linted before use -- each cell compiled,
each column's field checked against the context contract in :mod:`lendcore.decisioning.rules` --
and a policy that fails is refused with ``INVALID_POLICY`` rather than evaluated.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zen

from lendcore.decisioning.rules import (
    ADMISSION_FIELDS,
    LIMITS_FIELDS,
    TIER_FIELDS,
)
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.products.loader import policies_dir
from lendcore.store.versions import VersionMismatch, VersionStore

RACY_NS = 2_000_000_000
DEFAULT_VERSIONS_DIR = Path("var/policy-versions")
CONTEXT_FIELDS: dict[str, frozenset[str]] = {
    "admission": ADMISSION_FIELDS,
    "tier": TIER_FIELDS,
    "limits": LIMITS_FIELDS,
}
NODE_TYPES = {"inputNode", "outputNode", "decisionTableNode", "expressionNode", "switchNode"}
_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def decision_policies_dir() -> Path:
    return policies_dir() / "decision"


def versions_dir() -> Path:
    configured = os.environ.get("LENDCORE_POLICY_VERSIONS_DIR")
    return Path(configured) if configured else DEFAULT_VERSIONS_DIR


@dataclass(frozen=True)
class PolicyVersion:
    key: str
    hash: str  # sha256 of the file's bytes: what a decision records
    content: zen.ZenDecisionContent


@dataclass
class _Current:
    stamp: tuple[int, int, int]
    racy: bool
    version: PolicyVersion


def zen_message(exc: BaseException) -> str:
    """zen's errors are a JSON line followed by a native backtrace: keep the useful part."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        detail = json.loads(first)
    except ValueError:
        return first
    if not isinstance(detail, dict):
        return first
    source = detail.get("source")
    if isinstance(source, str) and source.startswith("{"):
        return zen_message(RuntimeError(source))
    parts = [str(detail.get(k)) for k in ("type", "nodeId", "source") if detail.get(k)]
    return ": ".join(parts) or first


def lint(key: str, document: Any, fields: frozenset[str] | None) -> None:
    """Refuse a graph zen would run wrongly without saying so (see the module docstring)."""

    def bad(message: str) -> ValidationError:
        return ValidationError(ErrorCode.INVALID_POLICY, f"{key}: {message}", {"policy": key})

    if not isinstance(document, dict) or not isinstance(document.get("nodes"), list):
        raise bad("not a JDM graph (no nodes)")
    nodes = [n for n in document["nodes"] if isinstance(n, dict)]
    kinds = [n.get("type") for n in nodes]
    if kinds.count("inputNode") != 1 or "outputNode" not in kinds:
        raise bad("a policy needs one input node and an output node")
    unsupported = sorted({str(kind) for kind in kinds} - NODE_TYPES)
    if unsupported:
        # Sub-decisions would escape version pinning; function nodes run code nobody lints.
        raise bad(f"unsupported node types {', '.join(unsupported)}")
    produced: set[str] = set()
    for node in nodes:
        content = node.get("content") or {}
        if node.get("type") == "decisionTableNode":
            path = content.get("outputPath")
            prefix = f"{path}." if path else ""
            produced |= {path} if path else set()
            produced |= {prefix + str(o.get("field")) for o in content.get("outputs", [])}
        elif node.get("type") == "expressionNode":
            produced |= {str(e.get("key")) for e in content.get("expressions", [])}
    for node in nodes:
        name = str(node.get("name") or node.get("id"))
        content = node.get("content") or {}
        if node.get("type") == "decisionTableNode":
            if content.get("hitPolicy") not in ("first", "collect"):
                raise bad(f"{name}: hitPolicy must be first or collect")
            _lint_table(name, content, fields, produced, bad)
        elif node.get("type") == "expressionNode":
            for expression in content.get("expressions", []):
                _compile(
                    zen.compile_expression,
                    expression.get("value"),
                    f"{name}.{expression.get('key')}",
                    bad,
                )
        elif node.get("type") == "switchNode":
            for statement in content.get("statements", []):
                if not statement.get("isDefault"):
                    _compile(zen.compile_expression, statement.get("condition"), name, bad)
    try:
        zen.ZenEngine().create_decision(zen.ZenDecisionContent(json.dumps(document))).validate()
    except RuntimeError as exc:
        raise bad(zen_message(exc)) from None


def _lint_table(
    name: str, content: dict[str, Any], fields: frozenset[str] | None, produced: set[str], bad: Any
) -> None:
    inputs = {str(i.get("id")): i for i in content.get("inputs", [])}
    outputs = {str(o.get("id")): o for o in content.get("outputs", [])}
    for column in inputs.values():
        field = column.get("field")
        if field and fields is not None and field not in fields and field not in produced:
            raise bad(f"{name}: column {column.get('name')!r} reads unknown field {field!r}")
    for position, rule in enumerate(content.get("rules", []), start=1):
        label = f"{name} rule {rule.get('_id') or position}"
        for column_id, cell in rule.items():
            if column_id.startswith("_") or not isinstance(cell, str) or not cell.strip():
                continue
            if column_id in inputs:
                compiler = (
                    zen.compile_unary_expression
                    if inputs[column_id].get("field")
                    else zen.compile_expression
                )
                _compile(compiler, cell, f"{label} {inputs[column_id].get('name')}", bad)
            elif column_id in outputs:
                _compile(
                    zen.compile_expression, cell, f"{label} {outputs[column_id].get('name')}", bad
                )
            else:
                raise bad(f"{label}: a cell for unknown column {column_id!r}")


def _compile(compiler: Any, text: Any, where: str, bad: Any) -> None:
    if not isinstance(text, str) or not text.strip():
        raise bad(f"{where}: empty expression")
    try:
        compiler(text)
    except RuntimeError as exc:
        raise bad(f"{where}: {text!r}: {zen_message(exc)}") from None


class PolicyStore:
    """The policies in one directory, each resolved to a content-addressed version."""

    def __init__(
        self,
        directory: Path | None = None,
        versions: Path | None = None,
        *,
        fields: Mapping[str, frozenset[str]] | None = None,
        persist: bool = True,
    ):
        self.directory = directory or decision_policies_dir()
        self.versions = versions or versions_dir()
        self.fields = CONTEXT_FIELDS if fields is None else fields
        self.persist = persist
        self._lock = threading.Lock()
        self._current: dict[str, _Current] = {}
        self._known: dict[tuple[str, str], PolicyVersion] = {}
        self._paths: dict[str, Path] = {}

    def current(self, key: str) -> PolicyVersion:
        """The version the file holds now (re-read when it changed)."""
        path = self._paths.get(key) or self._path(key)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise ValidationError(
                ErrorCode.UNKNOWN_POLICY, f"no policy {key!r} in {self.directory}", {"policy": key}
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = self._current.get(key)
        if cached is not None and cached.stamp == stamp and not cached.racy:
            return cached.version
        read_at = time.time_ns()
        raw = path.read_bytes()
        version = self._admit(key, raw)
        with self._lock:
            self._current[key] = _Current(stamp, stamp[0] >= read_at - RACY_NS, version)
        return version

    def version(self, key: str, digest: str) -> PolicyVersion:
        """An exact version, for replay: from memory, else from the version store."""
        self._path(key)
        if not _HASH.match(digest):
            raise ValidationError(ErrorCode.UNKNOWN_POLICY, f"not a policy version: {digest!r}")
        known = self._known.get((key, digest))
        if known is not None:
            return known
        try:
            raw = VersionStore(self.versions, ".json").read(digest)
        except VersionMismatch:
            raise ValidationError(
                ErrorCode.INVALID_POLICY, f"stored version {digest[:12]} does not match its hash"
            ) from None
        if raw is None:
            raise ValidationError(
                ErrorCode.UNKNOWN_POLICY,
                f"no version {digest[:12]} of policy {key!r}",
                {"policy": key, "version": digest},
            )
        return self._admit(key, raw)

    def register(self, key: str, raw: bytes) -> PolicyVersion:
        """Validate ``raw`` as a candidate version of policy ``key`` and keep it in the version
        store without making it current: an experiment arm can then pin it (a challenger)."""
        self._path(key)
        return self._admit(key, raw)

    def replace(self, key: str, raw: bytes) -> PolicyVersion:
        """Validate ``raw`` as policy ``key`` (JSON, lint, compile) and only then write it over
        the file, atomically: an edit made through the API takes effect on the next decision, and
        a bad edit changes nothing. The previous version stays in the version store for replay."""
        path = self._path(key)
        if not path.is_file():
            raise ValidationError(
                ErrorCode.UNKNOWN_POLICY, f"no policy {key!r} in {self.directory}", {"policy": key}
            )
        version = self._admit(key, raw)
        temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_bytes(raw)
        os.replace(temporary, path)
        return version

    def loaded(self, key: str, digest: str) -> PolicyVersion:
        return self._known[(key, digest)]

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValidationError(ErrorCode.UNKNOWN_POLICY, f"not a policy name: {key!r}")
        path = self.directory / f"{key}.json"
        self._paths[key] = path
        return path

    def _admit(self, key: str, raw: bytes) -> PolicyVersion:
        digest = hashlib.sha256(raw).hexdigest()
        known = self._known.get((key, digest))
        if known is not None:
            return known
        try:
            text = raw.decode("utf-8")
            document = json.loads(text)
        except ValueError as exc:
            raise ValidationError(
                ErrorCode.INVALID_POLICY, f"{key}: not JSON: {exc}", {"policy": key}
            ) from None
        lint(key, document, self.fields.get(key))
        version = PolicyVersion(key, digest, zen.ZenDecisionContent(text))
        if self.persist:
            self._store(digest, raw)
        with self._lock:
            self._known[(key, digest)] = version
        return version

    def _store(self, digest: str, raw: bytes) -> None:
        try:
            VersionStore(self.versions, ".json").keep(digest, raw)
        except OSError as exc:
            # A decision whose policy cannot be kept cannot be replayed: refuse to make it.
            raise LendcoreError(
                ErrorCode.POLICY_EVALUATION_FAILED, f"cannot store policy version: {exc}"
            ) from None


@dataclass(frozen=True)
class PolicyResult:
    key: str
    version: str
    result: dict[str, Any]
    trace: dict[str, Any] | None
    performance: str


class PolicyEngine:
    """``evaluate(key, context)`` on the current version, or on ``version=<hash>`` for replay."""

    def __init__(self, store: PolicyStore | None = None):
        self.store = store or PolicyStore()
        self._engine = zen.ZenEngine({"loader": self._load})

    def _load(self, engine_key: str) -> zen.ZenDecisionContent:
        key, _, digest = engine_key.partition("@")
        return self.store.loaded(key, digest).content

    def evaluate(
        self,
        key: str,
        context: Mapping[str, Any],
        *,
        version: str | None = None,
        trace: bool = False,
    ) -> PolicyResult:
        resolved = self.store.version(key, version) if version else self.store.current(key)
        try:
            response = self._engine.evaluate(
                f"{key}@{resolved.hash}", dict(context), {"trace": trace}
            )
        except RuntimeError as exc:
            raise LendcoreError(
                ErrorCode.POLICY_EVALUATION_FAILED,
                f"{key}: {zen_message(exc)}",
                {"policy": key, "version": resolved.hash},
            ) from None
        result = response.get("result")
        if not isinstance(result, dict):
            raise ValidationError(ErrorCode.INVALID_POLICY, f"{key}: the result is not an object")
        return PolicyResult(
            key,
            resolved.hash,
            result,
            response.get("trace") if trace else None,
            response["performance"],
        )


def compact_trace(trace: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """zen's trace without the copies of every node's input and output: per node in order, the
    rules that matched (their ``_id`` and the values they compared) or the values computed."""
    if not trace:
        return []
    steps: list[dict[str, Any]] = []
    for node in sorted(trace.values(), key=lambda n: n.get("order", 0)):
        data = node.get("traceData")
        step: dict[str, Any] = {"node": node.get("name"), "performance": node.get("performance")}
        if isinstance(data, dict) and "rule" in data:
            data = [data]
        if isinstance(data, list):
            step["rules"] = [
                {"id": (hit.get("rule") or {}).get("_id"), "inputs": hit.get("reference_map")}
                for hit in data
            ]
        elif isinstance(data, dict):
            step["values"] = {
                k: v.get("result") if isinstance(v, dict) else v for k, v in data.items()
            }
        steps.append(step)
    return steps
