"""Builders shared by the decision integration tests (this module holds no tests).

Every test gets its own copy of the shipped decision policies and products (so it may edit one
on disk), its own policy- and product-version stores, and its own models directory (the shipped artifacts, with the experiment
the test asks for). The hasher is the sandbox one and the clock stands still at
2026-03-01 10:00 Beijing time unless a test moves it.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from lendcore.decisioning.artifacts import models_dir
from lendcore.decisioning.decision_tables import decisions
from lendcore.decisioning.fraud import sha256_hasher
from lendcore.decisioning.fraud_tables import identifier_index
from lendcore.decisioning.policy import PolicyEngine, PolicyStore
from lendcore.decisioning.scoring import ModelRegistry
from lendcore.decisioning.service import DecisionService
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.ids import SequentialIds
from lendcore.products.loader import load_products, policies_dir
from lendcore.products.versions import ProductVersionStore
from lendcore.store.db import UnitOfWork

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PRODUCTS = load_products()
HASHER = sha256_hasher()

# A good file on the shipped card: score 625, PD 0.8% (band A); an insured employee, so the
# tier is standard and the request for 50 000 yuan over 12 months is approved as asked.
GOOD_PROFILE = {
    "checking_status": "none",
    "duration_months": 12,
    "credit_history": "existing_paid_duly",
    "purpose": "car_used",
    "credit_amount": 2000,
    "savings": "ge_1000",
    "employment_since": "ge_7y",
    "installment_rate": 2,
    "property": "real_estate",
    "age_years": 36,
    "other_installment_plans": "none",
    "housing": "own",
}
APPLICATION: dict[str, Any] = {
    "product": "consumer_instalment",
    "amount": "50000.00",
    "term": 12,
    "applicant": {
        "id_number": "110101199003071234",
        "phone": "13812341234",
        "birth_date": "1990-03-07",
        "region": "110105",
        "employment": "private_employee",
        "social_insurance": True,
        "monthly_income": "15000.00",
        "bank_card": "6222021234567890123",
    },
    "bureau": {"applications_90d": 2, "court_enforcements": 0},
    "device": {"device_id": "device-0001", "ip": "10.1.2.3", "is_proxy": False},
    "credit_profile": GOOD_PROFILE,
}
CLEAR_IDENTIFIERS = ("110101199003071234", "13812341234", "6222021234567890123", "device-0001")

CHALLENGER_ONLY = {
    "key": "test-all-challenger",
    "champion": "champion",
    "shadow": False,
    "shares": {"champion": 0.0, "challenger": 1.0},
    "arms": {"champion": {"kind": "scorecard"}, "challenger": {"kind": "challenger"}},
}
SHADOW = {**CHALLENGER_ONLY, "key": "test-shadow", "shadow": True}
HALF_AND_HALF = {
    **CHALLENGER_ONLY,
    "key": "test-half",
    "shares": {"champion": 0.5, "challenger": 0.5},
}


def application(**changes: Any) -> dict[str, Any]:
    """The clean application with dotted-path changes; None removes the key."""
    body = copy.deepcopy(APPLICATION)
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return body


def another_person(body: dict[str, Any], n: int) -> dict[str, Any]:
    """The same application from someone else (own ID, phone, card, device)."""
    changed = copy.deepcopy(body)
    changed["applicant"]["id_number"] = f"1101011990030{n:05d}"
    changed["applicant"]["phone"] = f"139{n:08d}"
    changed["applicant"]["bank_card"] = f"62220212{n:011d}"
    changed["device"]["device_id"] = f"device-{n:06d}"
    return changed


def models_copy(directory: Path, experiment: dict[str, Any] | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for path in models_dir().glob("*.json"):
        if path.name != "experiment.json":
            shutil.copy(path, directory / path.name)
    if experiment is not None:
        (directory / "experiment.json").write_text(json.dumps(experiment), encoding="utf-8")
    return directory


@dataclass
class Setup:
    service: DecisionService
    policies: Path
    versions: Path
    models: Path
    clock: FixedClock
    products: Path
    product_versions: Path

    def restarted(self) -> DecisionService:
        """A new process's service over the same directories (the products as the files hold
        them now)."""
        return DecisionService(
            PolicyEngine(PolicyStore(self.policies, self.versions)),
            load_products(self.products),
            ModelRegistry(self.models),
            HASHER,
            ids=SequentialIds(900_000),
            clock=self.clock,
            product_versions=ProductVersionStore(self.product_versions),
        )


def make_setup(tmp: Path, experiment: dict[str, Any] | None = None) -> Setup:
    policies = tmp / "policies"
    shutil.copytree(policies_dir() / "decision", policies)
    products = tmp / "products"
    shutil.copytree(policies_dir() / "products", products)
    versions = tmp / "versions"
    product_versions = tmp / "product-versions"
    models = models_copy(tmp / "models", experiment)
    clock = FixedClock(NOW)
    service = DecisionService(
        PolicyEngine(PolicyStore(policies, versions)),
        load_products(products),
        ModelRegistry(models),
        HASHER,
        ids=SequentialIds(1000),
        clock=clock,
        product_versions=ProductVersionStore(product_versions),
    )
    return Setup(service, policies, versions, models, clock, products, product_versions)


def decide(engine: Engine, service: DecisionService, body: Any, **kwargs: Any) -> dict[str, Any]:
    with UnitOfWork(engine) as uow:
        document = service.decide(uow, body, channel=kwargs.pop("channel", "api"), **kwargs)
        uow.commit()
    return document


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def stored_counts(engine: Engine) -> tuple[int, int]:
    return count(engine, decisions), count(engine, identifier_index)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
