"""Loading hardship policies from ``policies/hardship``: validation, version hash, hot reload.

Staff change a waiver ratio by editing the file; the next calculation sees it without a restart.
Each file is cached with its (mtime, size, inode) and re-read when any of them moves, like the
compliance packs. A policy's version is the sha256 of its own bytes and of the expense table it
names, so a case records exactly which numbers priced it.

A draft (``draft: true``, what ``lendcore hardship import-policy`` writes) is refused: a person
reviews it, completes it and removes the flag before it can price anything.

One broken file must not hide the others: listing and querying skip a file that does not load
and report it (``invalid``, and a warning in the log the first time each version of it is
seen), while asking for that policy by id still fails with its error.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as SchemaError

from lendcore.hardship.policy import ExpenseTable, HardshipPolicy
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import format_major
from lendcore.products.loader import policies_dir

log = logging.getLogger("lendcore.hardship.policies")


def hardship_dir() -> Path:
    return policies_dir() / "hardship"


@dataclass(frozen=True)
class LoadedPolicy:
    policy: HardshipPolicy
    expense_table: ExpenseTable
    path: Path
    version_hash: str  # sha256 over the policy file and its expense table

    @property
    def id(self) -> str:
        return self.policy.id

    def summary(self) -> dict[str, Any]:
        """The policy as ``GET /api/policy/query`` and ``lendcore hardship policies`` show it."""
        p = self.policy
        return {
            "id": p.id,
            "name": {"zh-CN": p.name.zh_CN, "en": p.name.en},
            "scope": p.scope,
            "products": list(p.products),
            "version": p.version,
            "version_hash": self.version_hash,
            "effective_from": p.effective_from.isoformat(),
            "eligibility": {
                "days_past_due_over": p.eligibility.days_past_due_over,
                "proof_of_hardship_required": p.eligibility.proof_of_hardship_required,
            },
            "max_waiver_ratio": str(p.waiver.max_ratio),
            "waiver_includes_fees": p.waiver.includes_fees,
            "principal_reduction_allowed": p.principal_reduction.allowed,
            "periods": {"min": p.periods.min, "max": p.periods.max},
            "down_payment": {
                "min_ratio": str(p.down_payment.min_ratio),
                "max_ratio": str(p.down_payment.max_ratio),
            },
            "max_installment_share": str(p.affordability.max_installment_share),
            "coefficients": {
                "income": str(p.affordability.income_coefficient),
                "expense": str(p.affordability.expense_coefficient),
            },
            "stress": {
                "horizon_months": p.stress.horizon_months,
                "yellow_at": str(p.stress.yellow_at),
                "red_at": str(p.stress.red_at),
            },
            "misses_allowed": p.breach.misses_allowed,
            "rate_cap": str(p.plan_terms.rate_cap),
            "expense_table": {
                "id": self.expense_table.id,
                "kind": self.expense_table.kind,
                "label": {
                    "zh-CN": self.expense_table.label.zh_CN,
                    "en": self.expense_table.label.en,
                },
                "multiplier": str(self.expense_table.multiplier),
                "cities": {
                    city: format_major(entry.minimum_living_standard)
                    for city, entry in self.expense_table.cities.items()
                },
            },
            "sources": [s.model_dump(mode="json") for s in p.sources],
            "notes": p.notes,
        }


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, int, int]
    digest: str
    model: BaseModel


class PolicyStore:
    """The policies in one directory, re-read when a file changes. Thread-safe."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._cache: dict[Path, _Cached] = {}
        self._loaded: dict[Path, LoadedPolicy] = {}
        self._lock = threading.Lock()
        self._reported: set[tuple[str, str]] = set()  # (file, message) already logged

    @property
    def directory(self) -> Path:
        return self._directory or hardship_dir()

    def ids(self) -> list[str]:
        # Listing the directory (never joining a user-given name onto it) keeps "../x" out.
        return sorted(path.stem for path in self.directory.glob("*.yaml"))

    def get(self, policy_id: str) -> LoadedPolicy:
        known = self.ids()
        if policy_id not in known:
            raise ValidationError(
                ErrorCode.UNKNOWN_HARDSHIP_POLICY,
                f"no hardship policy {policy_id!r}",
                {"policy": policy_id, "known": known},
            )
        return self._load(self.directory / f"{policy_id}.yaml")

    def all(self) -> list[LoadedPolicy]:
        """Every policy that loads (see :meth:`load_all` for the ones that do not)."""
        return self.load_all()[0]

    def load_all(self) -> tuple[list[LoadedPolicy], list[dict[str, str]]]:
        """The policies that load, and ``{id, file, code, message}`` for each that does not."""
        loaded, invalid = [], []
        for policy_id in self.ids():
            try:
                loaded.append(self._load(self.directory / f"{policy_id}.yaml"))
            except ValidationError as exc:
                invalid.append(
                    {
                        "id": policy_id,
                        "file": f"{policy_id}.yaml",
                        "code": str(exc.code),
                        "message": exc.message,
                    }
                )
                key = (policy_id, exc.message)
                if key not in self._reported:
                    with self._lock:
                        self._reported.add(key)
                    log.warning("hardship policy %s skipped: %s", policy_id, exc.message)
        return loaded, invalid

    def query(
        self,
        *,
        policy_id: str | None = None,
        scope: str | None = None,
        product: str | None = None,
        days_past_due: int | None = None,
    ) -> list[dict[str, Any]]:
        """Policy summaries matching every given filter (files that do not load are skipped:
        :meth:`search` reports them)."""
        return self.search(
            policy_id=policy_id, scope=scope, product=product, days_past_due=days_past_due
        )[0]

    def search(
        self,
        *,
        policy_id: str | None = None,
        scope: str | None = None,
        product: str | None = None,
        days_past_due: int | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """Policy summaries matching every given filter, and the files that did not load.
        ``product`` matches the product's own policies and the platform ones (which cover every
        product); ``days_past_due`` is a case's days past due: it keeps the policies under which
        that case is eligible."""
        rows = []
        every, invalid = self.load_all()
        for loaded in every:
            p = loaded.policy
            if policy_id is not None and p.id != policy_id:
                continue
            if scope is not None and p.scope != scope:
                continue
            if product is not None and p.scope == "product" and product not in p.products:
                continue
            if days_past_due is not None and days_past_due <= p.eligibility.days_past_due_over:
                continue
            rows.append(loaded.summary())
        if policy_id is not None:
            invalid = [i for i in invalid if i["id"] == policy_id]
        return rows, invalid

    # ---- loading ------------------------------------------------------------------------

    def _load(self, path: Path) -> LoadedPolicy:
        policy_digest, policy = self._model(path, HardshipPolicy, ErrorCode.INVALID_HARDSHIP_POLICY)
        assert isinstance(policy, HardshipPolicy)
        if policy.id != path.stem:
            # The file name is how a policy is asked for; a mismatch would record the wrong one.
            raise _invalid(path, f"id {policy.id!r} must match the file name {path.stem!r}")
        table_path = (
            self.directory / "expense-tables" / f"{policy.affordability.expense_table}.yaml"
        )
        if not table_path.is_file():
            raise _invalid(path, f"no expense table {policy.affordability.expense_table!r}")
        table_digest, table = self._model(
            table_path, ExpenseTable, ErrorCode.INVALID_HARDSHIP_POLICY
        )
        assert isinstance(table, ExpenseTable)
        if table.id != table_path.stem:
            raise _invalid(table_path, f"id {table.id!r} must match the file name")
        version = hashlib.sha256(f"{policy_digest}:{table_digest}".encode()).hexdigest()
        known = self._loaded.get(path)
        if known is not None and known.version_hash == version:
            return known  # the same files: the same object
        loaded = LoadedPolicy(policy, table, path, version)
        with self._lock:
            self._loaded[path] = loaded
        return loaded

    def _model(self, path: Path, schema: type[BaseModel], code: ErrorCode) -> tuple[str, BaseModel]:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ValidationError(
                code, f"cannot read {path.name}: {exc.strerror}", {"file": str(path)}
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = self._cache.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached.digest, cached.model
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if cached is not None and cached.digest == digest:
            model = cached.model  # touched, not changed
        else:
            model = _parse(raw, path, schema)
        with self._lock:
            self._cache[path] = _Cached(stamp, digest, model)
        return digest, model


def _parse(raw: bytes, path: Path, schema: type[BaseModel]) -> BaseModel:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise _invalid(path, " ".join(str(exc).split()[:30])) from None
    if isinstance(data, dict) and data.get("draft"):
        raise _invalid(
            path,
            "a draft policy is never applied: review it, complete it and remove 'draft: true'",
        )
    try:
        return schema.model_validate(data)
    except SchemaError as exc:
        raise _invalid(path, _summary(exc)) from None


def _invalid(path: Path, message: str) -> ValidationError:
    return ValidationError(
        ErrorCode.INVALID_HARDSHIP_POLICY, f"{path.name}: {message}", {"file": str(path)}
    )


def _summary(exc: SchemaError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "(top)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


_default: PolicyStore | None = None


def default_store() -> PolicyStore:
    """The process-wide store over ``policies/hardship`` (``$LENDCORE_POLICIES_DIR`` honoured)."""
    global _default
    if _default is None:
        _default = PolicyStore()
    return _default
