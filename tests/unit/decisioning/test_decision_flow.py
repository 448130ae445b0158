"""The decision flow without a database: the model's score and PD are what the rules read, the
credit profile is checked against the model vocabulary, the answer carries the model's reasons,
and what a record keeps of the request is masked."""

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendcore.decisioning.artifacts import models_dir
from lendcore.decisioning.data import CHARACTERISTICS
from lendcore.decisioning.documents import compare, policy_version
from lendcore.decisioning.fraud import sha256_hasher
from lendcore.decisioning.inputs import mask_application, mask_ip
from lendcore.decisioning.policy import PolicyEngine, PolicyStore
from lendcore.decisioning.rules import parse_application
from lendcore.decisioning.scoring import ModelRegistry
from lendcore.decisioning.service import DecisionService, Facts
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.products.loader import load_products, policies_dir
from lendcore.products.versions import ProductVersionStore

PRODUCTS = load_products()
AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
BODY = {
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
    },
    "bureau": {"applications_90d": 2, "court_enforcements": 0},
    "device": {"device_id": "dev-0001", "ip": "10.1.2.3", "is_proxy": False},
    "credit_profile": {"credit_history": "existing_paid_duly", "checking_status": "none"},
}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    store = PolicyStore(policies_dir() / "decision", tmp_path_factory.mktemp("versions"))
    # The shipped models without the shipped experiment: every application on the card.
    directory = tmp_path_factory.mktemp("models")
    for path in models_dir().glob("*.json"):
        if path.name != "experiment.json":
            (directory / path.name).write_bytes(path.read_bytes())
    return DecisionService(
        PolicyEngine(store),
        PRODUCTS,
        ModelRegistry(directory),
        sha256_hasher(),
        product_versions=ProductVersionStore(tmp_path_factory.mktemp("product-versions")),
    )


def evaluate(service, body, facts=Facts()):
    return service.evaluate(service.validate(body), application_id=1, at=AT, facts=facts)


def with_profile(**profile):
    body = copy.deepcopy(BODY)
    body["credit_profile"] = profile
    return body


def test_the_rules_read_the_models_score_and_pd(service):
    evaluation = evaluate(service, BODY)
    result = service.models.score(1, BODY["credit_profile"]).acted.result
    assert evaluation.context["score"] == result.score
    assert evaluation.context["pd"] == result.pd


def test_a_poor_profile_lowers_the_band_through_the_model(service):
    poor = with_profile(
        credit_history="critical_or_other_credits",
        checking_status="lt_0",
        duration_months=60,
        savings="lt_100",
        purpose="education",
        credit_amount=15000,
        age_years=21,
        housing="for_free",
        property="unknown_or_none",
    )
    good, bad = evaluate(service, BODY), evaluate(service, poor)
    assert bad.context["pd"] > 0.35 > good.context["pd"]
    assert bad.decision.policy.score_band == "D"
    assert "LOW_SCORE_REVIEW" in [r.code for r in bad.decision.reasons]


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"score": 900}, "unknown characteristic 'score'"),
        ({"pd": 0.01}, "unknown characteristic 'pd'"),
        ({"checking_status": "rich"}, "checking_status: one of"),
        ({"duration_months": "12"}, "duration_months: a finite number"),
        ({"age_years": True}, "age_years: a finite number"),
    ],
)
def test_the_credit_profile_is_checked_against_the_model_vocabulary(profile, message):
    with pytest.raises(LendcoreError) as caught:
        parse_application(with_profile(**profile), PRODUCTS)
    assert caught.value.code is ErrorCode.INVALID_APPLICATION
    assert message in caught.value.message


def test_every_characteristic_and_code_of_the_model_is_accepted():
    for c in CHARACTERISTICS:
        for value in c.codes if c.kind == "categorical" else (0, 3, 12.5):
            parsed = parse_application(with_profile(**{c.name: value}), PRODUCTS)
            assert parsed.credit_profile == {c.name: value}
    profile = {c.name: None for c in CHARACTERISTICS}
    # null and absent are the same (the missing bin): one spelling is kept
    assert parse_application(with_profile(**profile), PRODUCTS).credit_profile == {}


def test_the_answer_lists_policy_reasons_then_the_models(service):
    from lendcore.decisioning.documents import response_document

    body = copy.deepcopy(BODY)
    body["device"]["is_proxy"] = True
    evaluation = evaluate(service, body)
    document = response_document(
        evaluation.decision, evaluation.scoring.acted, decision_id=7, application_id=1
    )
    model_reasons = evaluation.scoring.acted.result.reasons
    assert document["reasons"][0]["code"] == "PROXY_OR_VPN"
    assert [r["code"] for r in document["reasons"][1:]] == [r.code for r in model_reasons]
    assert all(r["message"] and r["message_zh"] for r in document["reasons"])
    assert (document["decision_id"], document["application_id"]) == ("7", "1")
    assert document["policy_version"] == policy_version(document["policy_versions"])


def test_compare_names_every_field_that_differs():
    original = {"outcome": "APPROVE", "score": 600, "tier": "standard", "trace": 1}
    replayed = {"outcome": "REJECT", "score": 600, "tier": "standard", "trace": 2}
    _, _, differences = compare(original, replayed)
    assert differences == [{"field": "outcome", "original": "APPROVE", "replayed": "REJECT"}]


def test_the_recorded_request_has_its_identifiers_masked():
    masked = mask_application(
        {**BODY, "applicant": {**BODY["applicant"], "bank_card": "6222021234567890123"}}
    )
    assert masked["applicant"]["id_number"] == "110101********1234"
    assert masked["applicant"]["phone"] == "138****1234"
    assert masked["applicant"]["bank_card"] == "***************0123"
    assert masked["applicant"]["birth_date"] == "1990-**-**"
    assert masked["device"] == {"device_id": "****0001", "ip": "10.1.2.*", "is_proxy": False}
    assert masked["credit_profile"] == BODY["credit_profile"]
    assert BODY["applicant"]["phone"] == "13812341234"  # the body itself is untouched
    assert BODY["device"]["device_id"] != masked["device"]["device_id"]


def test_an_ipv6_address_keeps_its_48_bit_prefix():
    assert mask_ip("2001:db8:7:1::5") == "2001:db8:7::*"
    assert mask_ip("garbage") == "*******"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["applicant", "device", "phone", "id_number", "ip", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_masking_never_fails_on_any_body(body):
    masked = mask_application(body if isinstance(body, dict) else {"applicant": body})
    assert isinstance(masked, dict)
