"""The rule context: an application body validated and turned into the facts the JDM policies read.

Pure: no I/O, no clock. The decision date is a parameter (a replay on another day gives the same
age), and the facts that need a database or a provider -- identifier-sharing counts, the blacklist,
IP reputation -- come in as arguments already computed (see :mod:`lendcore.decisioning.fraud`).

Every key the policies may read is always present in the context (``null`` when unknown), so a
rule never silently skips because a key is absent, and :data:`ADMISSION_FIELDS` is the contract a
policy is linted against: a decision-table column naming a field outside it is refused at load.

Amounts in the context are yuan as JSON numbers, for comparisons in rules only; money that leaves
the policies (limits) comes back as exact decimal strings.

``score`` and ``pd`` come from the credit model (:mod:`lendcore.decisioning.scoring` scores the
``credit_profile``); a body cannot bring its own score. The ``credit_profile`` is checked against
the model vocabulary (:data:`lendcore.decisioning.data.CHARACTERISTICS`): an unknown key or an
unknown category code is refused rather than silently scored as missing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from ipaddress import ip_address
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as SchemaError

from lendcore.decisioning.data import CHARACTERISTICS
from lendcore.decisioning.pricing import NO_CREDIT_LINE, CreditLineFacts
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.kernel.money import format_major, parse_major, to_major

IDENTIFIER_KINDS = ("id_number", "phone", "device_id", "ip", "bank_card")
WINDOWS = ("24h", "7d", "90d")


class Employment(StrEnum):
    """What the applicant does; the tier policy segments on it."""

    CIVIL_SERVANT = "civil_servant"  # 公务员
    PUBLIC_INSTITUTION = "public_institution"  # 事业单位
    STATE_ENTERPRISE = "state_enterprise"  # 国有企业
    PRIVATE_EMPLOYEE = "private_employee"  # 企业职工
    SELF_EMPLOYED = "self_employed"  # 个体工商户
    FREELANCER = "freelancer"  # 自由职业
    OTHER = "other"


def _fen(value: Any) -> int:
    if isinstance(value, float):
        raise ValueError("write amounts as strings, e.g. '5000.00' (a float is not exact)")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError("an amount in yuan, e.g. '5000.00'")
    try:
        fen = parse_major(value)
    except LendcoreError as exc:  # a pydantic validator reports ValueError, not domain errors
        raise ValueError(exc.message) from None
    if fen <= 0:
        raise ValueError("must be positive")
    return fen


# Integer fen inside; a yuan string ("5000.00") in JSON both ways, so a dumped body re-parses to
# the same amount.
Fen = Annotated[
    int,
    BeforeValidator(_fen),
    PlainSerializer(format_major, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{1,12}(\.\d{1,2})?$",
            "examples": ["5000.00"],
            "description": "yuan as a decimal string (integer fen inside; never a float)",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Applicant(_Strict):
    """申请人 / Who applies: identity (blind-indexed, masked in the record), age, region,
    employment and income."""

    id_number: str = Field(
        min_length=6,
        max_length=32,
        description="身份证号 resident ID number; stored only as a blind index and masked",
        examples=["110101199003071234"],
    )
    phone: str = Field(
        min_length=5,
        max_length=32,
        description="手机号 mobile number; stored only as a blind index and masked",
        examples=["13812341234"],
    )
    birth_date: date | None = Field(
        default=None, description="出生日期 birth date (give this or age); age is counted on it"
    )
    age: int | None = Field(
        default=None, ge=0, le=150, description="年龄 completed years (when no birth_date)"
    )
    region: str = Field(
        pattern=r"^\d{6}$",
        description="所在地区 six-digit administrative division code (GB/T 2260); the province "
        "is its first two digits",
        examples=["110105"],
    )
    employment: Employment = Field(description="职业 what the applicant does (tier segment)")
    social_insurance: bool = Field(
        default=False, description="社保记录 has a social-insurance contribution record"
    )
    monthly_income: Fen = Field(description="月收入 monthly income in yuan")
    bank_card: str | None = Field(
        default=None,
        min_length=8,
        max_length=32,
        description="银行卡号 disbursement card; stored only as a blind index and masked",
    )

    @model_validator(mode="after")
    def _age_or_birth_date(self) -> Applicant:
        if self.birth_date is None and self.age is None:
            raise ValueError("give birth_date or age")
        return self


class Bureau(_Strict):
    """征信 / What the credit bureau reports."""

    applications_90d: int = Field(
        ge=0, description="多头 lending applications in the last 3 months (credit bureau)"
    )
    court_enforcements: int = Field(ge=0, description="被执行人 court enforcement records")


class Device(_Strict):
    """设备 / The client the application came from (fraud-graph identifiers and proxy flag)."""

    device_id: str = Field(
        min_length=1, max_length=128, description="设备号 the client's device fingerprint"
    )
    ip: str = Field(description="IP地址 the applicant's IPv4/IPv6 address", examples=["10.1.2.3"])
    is_proxy: bool = Field(default=False, description="代理/VPN the client's own detection")

    @model_validator(mode="after")
    def _ip_is_an_address(self) -> Device:
        try:
            ip_address(self.ip)
        except ValueError:
            raise ValueError(f"ip is not an IPv4/IPv6 address: {self.ip!r}") from None
        return self


def _profile_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for c in CHARACTERISTICS:
        described = {"description": f"{c.label_zh} {c.label_en} (reason code {c.code})"}
        if c.kind == "categorical":
            properties[c.name] = {"enum": [*c.codes, None], **described}
        else:
            properties[c.name] = {"type": ["number", "null"], **described}
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": "信用档案 the scorecard's characteristics (docs/concepts/"
        "decisioning-models.md); an absent or null characteristic scores the neutral missing bin",
    }


_CHARACTERISTICS = {c.name: c for c in CHARACTERISTICS}


def _check_profile(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value  # pydantic's dict check reports it
    for name, item in value.items():
        characteristic = _CHARACTERISTICS.get(name)
        if characteristic is None:
            raise ValueError(f"unknown characteristic {name!r}")
        if item is None:
            continue
        if characteristic.kind == "categorical":
            if not isinstance(item, str) or item not in characteristic.codes:
                raise ValueError(f"{name}: one of {', '.join(characteristic.codes)}")
        elif (
            isinstance(item, bool)
            or not isinstance(item, int | float | Decimal)
            or not math.isfinite(item)
        ):
            raise ValueError(f"{name}: a finite number")
    return value


CreditProfile = Annotated[
    dict[str, Any], BeforeValidator(_check_profile), WithJsonSchema(_profile_schema())
]


class Application(_Strict):
    """授信申请 / A credit application: the body of ``POST /api/decisions``,
    ``POST /api/applications`` and ``lendcore decide``."""

    product: str = Field(
        description="申请产品 product code (policies/products)", examples=["consumer_instalment"]
    )
    amount: Fen = Field(description="申请金额 amount applied for, yuan")
    term: int = Field(ge=1, le=1200, description="期限 term in the product's period unit")
    applicant: Applicant = Field(description="申请人 the applicant")
    bureau: Bureau = Field(description="征信 the credit bureau's report")
    device: Device = Field(description="设备 the applicant's device and network")
    credit_profile: CreditProfile = Field(default_factory=dict)

    @field_validator("credit_profile", mode="after")
    @classmethod
    def _drop_nulls(cls, value: dict[str, Any]) -> dict[str, Any]:
        # null and absent score the same (the missing bin): keep one spelling in the record
        return {k: v for k, v in value.items() if v is not None}


def parse_application(body: Mapping[str, Any], known_products: Collection[str]) -> Application:
    """Validate an application body; bad input is a :class:`ValidationError` naming the field."""
    if not isinstance(body, Mapping):
        raise ValidationError(
            ErrorCode.INVALID_APPLICATION, "the application must be a JSON object", {"field": ""}
        )
    try:
        application = Application.model_validate(dict(body))
    except SchemaError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationError(
            ErrorCode.INVALID_APPLICATION,
            f"{field or 'application'}: {message}",
            {"field": field, "errors": len(exc.errors())},
        ) from None
    if application.product not in known_products:
        raise ValidationError(
            ErrorCode.UNKNOWN_PRODUCT,
            f"product: no product {application.product!r}",
            {"field": "product", "known": sorted(known_products)},
        )
    return application


def age_on(birth_date: date, on: date) -> int:
    """Completed years on ``on`` (a 29 February birthday comes round on 1 March)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def applicant_age(applicant: Applicant, decision_date: date) -> int:
    if applicant.birth_date is None:
        assert applicant.age is not None  # the model requires one of the two
        return applicant.age
    if applicant.birth_date > decision_date:
        raise ValidationError(
            ErrorCode.INVALID_APPLICATION,
            "applicant.birth_date: after the decision date",
            {"field": "applicant.birth_date"},
        )
    return age_on(applicant.birth_date, decision_date)


def empty_identifier_counts() -> dict[str, dict[str, Any]]:
    """Sharing counts when no identifier index is consulted: nothing shared."""
    counts: dict[str, Any] = {
        f"other_{what}_{w}": 0 for what in ("apps", "applicants") for w in WINDOWS
    }
    return {kind: {**counts, "is_hub": False} for kind in IDENTIFIER_KINDS}


def _yuan(fen: int) -> float:
    # For comparisons in rules only (documented above); money math never sees this value.
    return float(to_major(fen))


def build_context(
    application: Application,
    decision_date: date,
    *,
    identifier_counts: Mapping[str, Mapping[str, Any]] | None = None,
    blacklist_identifier: str | None = None,
    ip_risk: str | None = None,
    fraud_checked: bool = False,
    score: float | None = None,
    pd: float | None = None,
    credit_line: CreditLineFacts | None = None,
) -> dict[str, Any]:
    """The facts the admission policy reads. ``score``/``pd`` are the credit model's (None when
    unscored: the policies refer that to review); ``score_band`` is filled from the tier
    policy; ``credit_line`` is the applicant's line as read now (the offer draws on it)."""
    applicant = application.applicant
    profile = application.credit_profile
    counts = empty_identifier_counts()
    for kind, values in (identifier_counts or {}).items():
        if kind in counts:
            counts[kind] = {**counts[kind], **values}
    ip_risky = ip_risk is not None and ip_risk != "clean"
    return {
        "decision_date": decision_date.isoformat(),
        "product": application.product,
        "amount": _yuan(application.amount),
        "term": application.term,
        "applicant": {
            "age": applicant_age(applicant, decision_date),
            "region": applicant.region,
            "province": applicant.region[:2] + "0000",
            "employment": str(applicant.employment),
            "social_insurance": applicant.social_insurance,
            "monthly_income": _yuan(applicant.monthly_income),
        },
        "bureau": {
            "applications_90d": application.bureau.applications_90d,
            "court_enforcements": application.bureau.court_enforcements,
        },
        "device": {
            "is_proxy": application.device.is_proxy or ip_risky,
            "ip_risk": ip_risk,
        },
        "blacklist_hit": blacklist_identifier is not None,
        "blacklist_identifier": blacklist_identifier,
        "fraud": {"checked": fraud_checked, **counts},
        "credit_profile": {
            "has_credit_history": profile.get("credit_history") is not None,
            "characteristics": sum(1 for v in profile.values() if v is not None),
        },
        "score": _number(score, "score"),
        "pd": _probability(pd),
        "score_band": None,
        "credit_line": dict(NO_CREDIT_LINE) if credit_line is None else credit_line.to_context(),
    }


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError(
            ErrorCode.INVALID_APPLICATION, f"{field}: not a number", {"field": field}
        )
    return float(value)


def _probability(value: Any) -> float | None:
    pd = _number(value, "pd")
    if pd is not None and not 0 <= pd <= 1:
        raise ValidationError(
            ErrorCode.INVALID_APPLICATION, "pd: a probability between 0 and 1", {"field": "pd"}
        )
    return pd


def tier_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The slice of the rule context the tier policy reads (a small input evaluates faster)."""
    applicant = context["applicant"]
    return {
        "applicant": {
            "employment": applicant["employment"],
            "social_insurance": applicant["social_insurance"],
        },
        "score": context["score"],
        "pd": context["pd"],
    }


def limits_context(context: Mapping[str, Any], tier: str, score_band: str) -> dict[str, Any]:
    return {"product": context["product"], "tier": tier, "score_band": score_band}


def field_paths(document: Mapping[str, Any], prefix: str = "") -> frozenset[str]:
    """Every dotted path in a context, objects included: what a policy column may name."""
    paths: set[str] = set()
    for key, value in document.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, Mapping):
            paths |= field_paths(value, path + ".")
    return frozenset(paths)


def _sample_application() -> Application:
    return Application(
        product="sample",
        amount=100_000,
        term=3,
        applicant=Applicant(
            id_number="110101199003071234",
            phone="13800000000",
            age=30,
            region="110105",
            employment=Employment.OTHER,
            monthly_income=100_000,
        ),
        bureau=Bureau(applications_90d=0, court_enforcements=0),
        device=Device(device_id="sample", ip="192.0.2.1"),
    )


_SAMPLE = build_context(_sample_application(), date(2026, 1, 1))
# The contract between this module and the policies: the fields each policy's input may name.
ADMISSION_FIELDS = field_paths(_SAMPLE)
TIER_FIELDS = field_paths(tier_context(_SAMPLE))
LIMITS_FIELDS = field_paths(limits_context(_SAMPLE, "standard", "A"))
