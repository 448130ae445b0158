"""The decision policies (policies/decision/*.json) on the zen engine: every admission rule at its
boundary, outcome precedence, tiers and limits, hot reload and replay by version hash.

The policies read the model's score and PD from the context; these tests set them directly (the
scoring itself is tested in tests/unit/decisioning)."""

import copy
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from lendcore.decisioning.decide import Outcome, decide, evaluate_policies
from lendcore.decisioning.policy import PolicyEngine, PolicyStore
from lendcore.decisioning.rules import build_context, parse_application
from lendcore.decisioning.scorecard import SCALING
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.products.loader import load_products, policies_dir

SHIPPED = policies_dir() / "decision"
DAY = date(2026, 3, 1)
PRODUCTS = load_products()

APPLICATION = {
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
    "device": {"device_id": "dev-1", "ip": "10.1.2.3", "is_proxy": False},
    "credit_profile": {"credit_history": "existing_paid_duly"},
}
PD = 0.08  # band A


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return PolicyEngine(PolicyStore(SHIPPED, tmp_path_factory.mktemp("versions")))


def application(**changes):
    """The clean application with dotted-path changes: application(**{"bureau.applications_90d": 11})."""
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


def context_of(body=None, day=DAY, pd=PD, **context_args):
    """The rule context with the model's PD (and a score on the card's scale) given directly."""
    parsed = parse_application(body or APPLICATION, PRODUCTS)
    score = None if pd is None else round(SCALING.score_from_pd(pd))
    return build_context(parsed, day, score=score, pd=pd, **context_args)


def run(engine, body=None, counts=None, pd=PD, **context_args):
    return evaluate_policies(
        engine, context_of(body, pd=pd, identifier_counts=counts, **context_args)
    )


def codes(decision):
    return [r.code for r in decision.reasons]


def test_the_clean_application_is_approved_with_no_reasons(engine):
    decision = run(engine)
    assert decision.outcome is Outcome.APPROVE
    assert decision.reasons == ()
    assert set(decision.versions) == {"tier", "admission", "limits"}


@pytest.mark.parametrize(("age", "rejected"), [(17, True), (18, False), (60, False), (61, True)])
def test_age_must_be_18_to_60(engine, age, rejected):
    decision = run(engine, application(**{"applicant.birth_date": None, "applicant.age": age}))
    assert ("AGE_OUT_OF_RANGE" in codes(decision)) is rejected
    assert (decision.outcome is Outcome.REJECT) is rejected


def test_age_is_counted_on_the_decision_date_not_today(engine):
    # Born 2008-03-02: 17 on 2026-03-01, 18 the next day.
    body = application(**{"applicant.birth_date": "2008-03-02"})
    assert "AGE_OUT_OF_RANGE" in codes(run(engine, body))
    later = evaluate_policies(engine, context_of(body, date(2026, 3, 2)))
    assert "AGE_OUT_OF_RANGE" not in codes(later)


@pytest.mark.parametrize(
    ("region", "rejected"),
    [
        ("710000", True),  # Taiwan: the province code itself
        ("710101", True),  # a division inside it (the rule reads the province, not the code)
        ("810000", True),  # Hong Kong
        ("820001", True),  # Macao
        ("659001", False),  # Xinjiang, the last served province before 71
        ("440305", False),
    ],
)
def test_regions_outside_the_licence_are_rejected(engine, region, rejected):
    decision = run(engine, application(**{"applicant.region": region}))
    assert ("REGION_RESTRICTED" in codes(decision)) is rejected
    assert (decision.outcome is Outcome.REJECT) is rejected


def test_a_blacklist_hit_rejects_and_names_the_identifier(engine):
    decision = run(engine, blacklist_identifier="phone")
    assert decision.outcome is Outcome.REJECT
    [reason] = decision.reasons
    assert (reason.code, reason.detail) == ("BLACKLISTED", "phone")


@pytest.mark.parametrize(("applications", "rejected"), [(10, False), (11, True)])
def test_more_than_10_applications_in_90_days_rejects(engine, applications, rejected):
    decision = run(engine, application(**{"bureau.applications_90d": applications}))
    assert ("TOO_MANY_APPLICATIONS" in codes(decision)) is rejected


@pytest.mark.parametrize(("applications", "rejected"), [(5, False), (6, True)])
def test_a_thin_file_has_a_stricter_application_threshold(engine, applications, rejected):
    body = application(
        **{"bureau.applications_90d": applications, "credit_profile.credit_history": None}
    )
    decision = run(engine, body)
    assert ("THIN_FILE_TOO_MANY_APPLICATIONS" in codes(decision)) is rejected
    assert "THIN_FILE" in codes(decision)


@pytest.mark.parametrize(("court", "rejected"), [(0, False), (1, True)])
def test_any_court_enforcement_rejects(engine, court, rejected):
    decision = run(engine, application(**{"bureau.court_enforcements": court}))
    assert ("COURT_ENFORCEMENT" in codes(decision)) is rejected


@pytest.mark.parametrize(("others", "rejected"), [(3, False), (4, True)])
def test_more_than_3_other_applications_on_a_device_in_7_days_rejects(engine, others, rejected):
    decision = run(engine, counts={"device_id": {"other_apps_7d": others}})
    assert ("DEVICE_VELOCITY" in codes(decision)) is rejected


@pytest.mark.parametrize(
    ("others", "hub", "flagged"), [(5, False, False), (6, False, True), (6, True, False)]
)
def test_ip_velocity_goes_to_review_except_on_hub_ips(engine, others, hub, flagged):
    decision = run(engine, counts={"ip": {"other_apps_24h": others, "is_hub": hub}})
    assert ("IP_VELOCITY" in codes(decision)) is flagged
    assert decision.outcome is (Outcome.MANUAL_REVIEW if flagged else Outcome.APPROVE)


def test_a_phone_used_by_another_applicant_goes_to_review(engine):
    decision = run(engine, counts={"phone": {"other_applicants_90d": 1}})
    assert (decision.outcome, codes(decision)) == (Outcome.MANUAL_REVIEW, ["PHONE_SHARED"])


def test_a_bank_card_used_by_another_applicant_rejects(engine):
    decision = run(engine, counts={"bank_card": {"other_applicants_90d": 1}})
    assert (decision.outcome, codes(decision)) == (Outcome.REJECT, ["BANK_CARD_SHARED"])


@pytest.mark.parametrize(
    ("flag", "ip_risk", "flagged"),
    [(True, "clean", True), (False, "vpn", True), (False, "clean", False), (False, None, False)],
)
def test_a_proxy_or_vpn_from_the_client_or_the_reputation_goes_to_review(
    engine, flag, ip_risk, flagged
):
    decision = run(engine, application(**{"device.is_proxy": flag}), ip_risk=ip_risk)
    assert ("PROXY_OR_VPN" in codes(decision)) is flagged


def test_a_thin_file_goes_to_review(engine):
    decision = run(engine, application(**{"credit_profile.credit_history": None}))
    assert (decision.outcome, codes(decision)) == (Outcome.MANUAL_REVIEW, ["THIN_FILE"])


@pytest.mark.parametrize(
    ("pd", "expected"),
    [
        (0.3499, []),
        (0.35, ["LOW_SCORE_REVIEW"]),
        (0.5999, ["LOW_SCORE_REVIEW"]),
        (0.6, ["LOW_SCORE_REVIEW", "HIGH_DEFAULT_RISK"]),
        (None, ["SCORE_MISSING"]),
    ],
)
def test_score_bands_drive_review_and_rejection(engine, pd, expected):
    decision = run(engine, pd=pd)
    assert codes(decision) == expected


def test_every_hit_is_collected_and_reject_outranks_review(engine):
    body = application(
        **{"applicant.age": 70, "applicant.birth_date": None, "credit_profile.credit_history": None}
    )
    decision = run(engine, body, counts={"phone": {"other_applicants_90d": 2}})
    assert codes(decision) == ["AGE_OUT_OF_RANGE", "PHONE_SHARED", "THIN_FILE"]
    assert decision.outcome is Outcome.REJECT
    assert decision.limit is None  # no limits for a rejection


def test_review_outranks_approval(engine):
    decision = run(engine, application(**{"device.is_proxy": True}))
    assert decision.outcome is Outcome.MANUAL_REVIEW
    assert decision.limit is not None  # the reviewer sees the offer


@pytest.mark.parametrize(
    ("employment", "insured", "pd", "segment", "band", "tier"),
    [
        ("civil_servant", False, 0.05, "whitelist", "A", "whitelist"),
        ("civil_servant", False, 0.40, "whitelist", "D", "standard"),
        ("private_employee", True, 0.15, "standard", "B", "standard"),
        ("private_employee", False, 0.15, "high_risk", "B", "high_risk"),
        ("state_enterprise", True, 0.40, "standard", "D", "high_risk"),
        ("freelancer", True, 0.05, "high_risk", "A", "high_risk"),
        ("civil_servant", False, None, "whitelist", "U", "standard"),
    ],
)
def test_tier_combines_segment_and_score_band(engine, employment, insured, pd, segment, band, tier):
    body = application(
        **{"applicant.employment": employment, "applicant.social_insurance": insured}
    )
    decision = run(engine, body, pd=pd)
    assert (decision.segment, decision.score_band, decision.tier) == (segment, band, tier)


def test_a_low_score_starts_on_the_small_product(engine):
    decision = decide(
        engine,
        parse_application(APPLICATION, PRODUCTS),
        context_of(pd=0.40),
        PRODUCTS,
        start=DAY,
    )
    assert decision.outcome is Outcome.MANUAL_REVIEW
    offer = decision.offer.to_dict()
    assert offer["product"] == "small_short_term" and offer["counter_offer"] is True
    assert offer["amount"] == "1000.00" and offer["tier_max"] == "2000.00"


def test_the_trace_names_the_rules_that_matched(engine):
    decision = run(engine, application(**{"bureau.court_enforcements": 2}))
    table = next(step for step in decision.trace["admission"] if "rules" in step)
    assert [r["id"] for r in table["rules"]] == ["court_enforcement"]
    assert table["rules"][0]["inputs"]["bureau.court_enforcements"] == 2


# --- hot reload and replay ---------------------------------------------------------------


@pytest.fixture
def editable(tmp_path):
    directory = tmp_path / "decision"
    shutil.copytree(SHIPPED, directory)
    store = PolicyStore(directory, tmp_path / "versions")
    return directory, PolicyEngine(store)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_edited_policy_takes_effect_without_restart_and_the_old_version_replays(editable):
    directory, engine = editable
    body = application(**{"bureau.applications_90d": 9})
    before = run(engine, body)
    assert before.outcome is Outcome.APPROVE
    # Same length on purpose: only the content (and so the hash) tells the versions apart.
    _edit(directory / "admission.json", '"> 10"', '"> 08"')
    after = run(engine, body)
    assert codes(after) == ["TOO_MANY_APPLICATIONS"]
    old, new = before.versions["admission"], after.versions["admission"]
    assert old != new
    assert new == hashlib.sha256((directory / "admission.json").read_bytes()).hexdigest()
    replayed = evaluate_policies(engine, context_of(body), versions=before.versions)
    assert replayed.outcome is Outcome.APPROVE and replayed.versions == before.versions


def test_a_restarted_process_replays_an_old_version_from_the_version_store(editable, tmp_path):
    directory, engine = editable
    first = run(engine).versions["admission"]
    _edit(directory / "admission.json", '"> 10"', '"> 08"')
    fresh = PolicyEngine(PolicyStore(directory, tmp_path / "versions"))
    stored = tmp_path / "versions" / f"{first}.json"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == first
    result = fresh.evaluate(
        "admission",
        {**context_of(application(**{"bureau.applications_90d": 9})), "score_band": "A"},
        version=first,
    )
    assert result.result["outcome"] == "APPROVE" and result.version == first


def test_an_unknown_version_is_refused(editable):
    _, engine = editable
    with pytest.raises(LendcoreError) as caught:
        engine.evaluate("admission", {}, version="0" * 64)
    assert caught.value.code is ErrorCode.UNKNOWN_POLICY


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"> 10"', '"> > 10"', "too_many_applications"),  # a cell that does not compile
        ('"bureau.applications_90d"', '"bureau.aplications_90d"', "unknown field"),  # typo
        ('"hitPolicy": "collect"', '"hitPolicy": "unique"', "hitPolicy"),
        ('"type": "expressionNode"', '"type": "functionNode"', "unsupported node types"),
    ],
)
def test_a_broken_edit_is_refused_not_silently_skipped(editable, old, new, message):
    directory, engine = editable
    _edit(directory / "admission.json", old, new)
    with pytest.raises(LendcoreError) as caught:
        run(engine)
    assert caught.value.code is ErrorCode.INVALID_POLICY
    assert message in caught.value.message


def test_an_outcome_expression_that_contradicts_its_reasons_is_refused(editable):
    directory, engine = editable
    _edit(directory / "admission.json", r"? \"REJECT\" :", r"? \"APPROVE\" :")
    with pytest.raises(LendcoreError) as caught:
        run(engine, application(**{"bureau.court_enforcements": 1}))
    assert caught.value.code is ErrorCode.INVALID_POLICY


def test_a_missing_policy_is_unknown(tmp_path):
    engine = PolicyEngine(PolicyStore(tmp_path, tmp_path / "versions"))
    with pytest.raises(LendcoreError) as caught:
        engine.evaluate("admission", {})
    assert caught.value.code is ErrorCode.UNKNOWN_POLICY


def test_the_shipped_policies_are_valid_json_graphs():
    for key in ("admission", "tier", "limits"):
        document = json.loads((SHIPPED / f"{key}.json").read_text(encoding="utf-8"))
        assert {n["type"] for n in document["nodes"]} >= {"inputNode", "outputNode"}
