"""The documented shapes of the decisioning endpoints' responses (OpenAPI only).

The endpoints build their documents as plain dicts (:mod:`lendcore.decisioning.documents`,
:mod:`lendcore.decisioning.service`) and return them as ``JSONResponse``: ``POST /api/decisions``
was tuned (docs/performance.md, "Credit decisions") and a response-model pass would re-validate
and re-serialise every decision. These models are therefore referenced with
``responses={status: {"model": ...}}`` -- documentation, never run on the request path -- and
``tests/integration/test_decisions_api_schemas.py`` validates real responses against them with
``extra="forbid"``, so a field added to a document without being documented here fails a test.

Names carry a ``Decision``/``Blacklist``/``Review`` prefix: the OpenAPI components are shared by
every router, and two models of one name would rename both.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lendcore.api.errors import ErrorInfo

OutcomeName = Literal["APPROVE", "MANUAL_REVIEW", "REJECT"]
_YUAN = "yuan as a decimal string"
_RATE = "annual rate as a decimal fraction string"


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionReason(_Document):
    """理由 / One reason: policy reasons first (what decided), then the credit model's."""

    code: str = Field(description="理由码 reason code", examples=["PROXY_OR_VPN"])
    message: str = Field(description="说明 the reason in English (message_en)")
    message_zh: str = Field(description="中文说明 the reason in Chinese")
    message_en: str = Field(description="英文说明 the reason in English")
    outcome: OutcomeName | None = Field(
        description="强制结论 the outcome a policy reason forces; null for a model reason"
    )
    source: Literal["policy", "model"] = Field(
        description="来源 policy (an admission rule) or model (a characteristic that cost points)"
    )
    detail: str | None = Field(
        None, description="细节 what the rule matched, e.g. the blacklisted identifier kind"
    )
    characteristic: str | None = Field(
        None, description="特征 model reasons: the scorecard characteristic"
    )
    points_lost: float | None = Field(
        None, description="失分 model reasons: points lost against the best bin"
    )


class DecisionStepUp(_Document):
    """提额规则 / How on-time repayments raise the limit."""

    after: int = Field(description="每N期 every this many on-time repayments")
    factor: str = Field(description="倍数 the limit is multiplied by this (decimal string)")


class DecisionOffer(_Document):
    """报价 / The priced offer; it passed the all-in IRR cap check."""

    limit: str = Field(description=f"授信额度 credit limit granted now, {_YUAN}")
    product: str = Field(description="产品 product code (may differ from the one applied for)")
    product_version: str = Field(
        description="产品版本 sha256 of the product file priced with (kept for replay)"
    )
    counter_offer: bool = Field(description="反报价 true when the product differs from the request")
    amount: str = Field(description=f"金额 amount offered, {_YUAN}")
    term: int = Field(description="期限 periods, in term_unit")
    term_unit: str = Field(description="期限单位 month or day")
    method: str = Field(description="还款方式 amortisation method")
    annual_rate: str = Field(description=f"年利率 nominal {_RATE}")
    apr_irr: str = Field(description=f"综合年化 all-in IRR (fees included), {_RATE}")
    cap: str = Field(description=f"利率上限 the binding cap on apr_irr, {_RATE}")
    rate_reduced_for_cap: bool = Field(
        description="为合规降价 the policy's rate was lowered to fit under the cap"
    )
    first_installment: str = Field(description=f"首期还款 first instalment, {_YUAN}")
    total_repayment: str = Field(description=f"还款总额 total repaid, {_YUAN}")
    credit_limit: str = Field(description=f"授信额度 same as limit, {_YUAN}")
    tier_max: str = Field(description=f"最高额度 what step-ups may reach, {_YUAN}")
    step_up: DecisionStepUp = Field(description="提额 the step-up rule")
    limit_source: Literal["policy", "credit_line"] = Field(
        description="额度来源 policy (the limits policy's initial limit) or credit_line (the "
        "applicant's stepped-up credit line, larger than the policy's, within tier_max)"
    )


class DecisionOfferRefused(_Document):
    """无合规报价 / Why no offer was made (no rate under the cap)."""

    code: str = Field(description="错误码 e.g. RATE_CAP_EXCEEDED")
    message: str = Field(description="说明 why")


_VERSIONS = "策略版本 policy key -> sha256 of the JDM file used (tier, admission, limits)"


class DecisionResponse(_Document):
    """决策结果 / The answer to an application (``POST /api/decisions``)."""

    decision_id: str = Field(description="决策号 64-bit id as a string")
    application_id: str = Field(description="申请号 64-bit id as a string")
    outcome: OutcomeName = Field(description="结论 REJECT > MANUAL_REVIEW > APPROVE")
    reasons: list[DecisionReason] = Field(description="理由 policy reasons, then model reasons")
    score: float = Field(description="评分 credit score of the acted-on model")
    pd: float = Field(description="违约概率 probability of default, 0-1")
    segment: str = Field(description="客群 the tier policy's segment")
    score_band: str = Field(description="评分段 score band (A, B, C ...) from the PD")
    tier: str = Field(description="等级 whitelist, standard or high_risk")
    offer: DecisionOffer | None = Field(description="报价 null when rejected or refused")
    offer_refused: DecisionOfferRefused | None = Field(
        description="报价被拒 why no offer fits under the cap; null otherwise"
    )
    policy_version: str = Field(description="策略版本 one sha256 over policy_versions")
    policy_versions: dict[str, str] = Field(description=_VERSIONS)
    model_version: str = Field(description="模型版本 sha256 of the model artifact")
    model_kind: str = Field(description="模型类型 scorecard or challenger")
    arm: str = Field(description="实验组 the experiment arm (champion, challenger ...)")


class DecisionTraceRule(_Document):
    """命中规则 / A decision-table row that matched."""

    id: str | None = Field(description="规则号 the row's _id")
    inputs: dict[str, Any] | None = Field(description="比较值 the values the row compared")


class DecisionTraceStep(_Document):
    """轨迹节点 / One node of a policy graph, in evaluation order."""

    node: str | None = Field(description="节点 the node's name")
    performance: str | None = Field(description="耗时 the engine's timing, e.g. 14.0µs")
    rules: list[DecisionTraceRule] | None = Field(None, description="命中 decision tables")
    values: dict[str, Any] | None = Field(None, description="计算值 expression nodes' results")


class DecisionTrace(_Document):
    """规则轨迹 / The trace of each policy evaluated."""

    tier: list[DecisionTraceStep] = Field(description="等级策略 the tier policy")
    admission: list[DecisionTraceStep] = Field(description="准入策略 the admission policy")
    limits: list[DecisionTraceStep] | None = Field(
        None, description="额度策略 the limits policy (absent when rejected)"
    )
    credit_line: list[DecisionTraceStep] | None = Field(
        None,
        description="授信额度 present when the applicant has a credit line: its limit and "
        "version, the policy's limit, the offered limit and whether the line set it",
    )


class DecisionModelReason(_Document):
    """模型理由 / A characteristic that cost points."""

    code: str = Field(description="理由码 reason code of the characteristic")
    characteristic: str = Field(description="特征 the characteristic")
    points_lost: float = Field(description="失分 points lost against the best bin")
    message_zh: str = Field(description="中文说明 the characteristic in Chinese")
    message_en: str = Field(description="英文说明 the characteristic in English")


class DecisionModelScore(_Document):
    """模型评分 / One model's score (the acted-on arm, or a shadow)."""

    arm: str = Field(description="实验组 the arm")
    model_kind: str = Field(description="模型类型 scorecard or challenger")
    model_version: str = Field(description="模型版本 sha256 of the artifact")
    score: float = Field(description="评分 the score")
    pd: float = Field(description="违约概率 probability of default, 0-1")
    reasons: list[DecisionModelReason] = Field(description="理由 at most four, largest first")
    missing: list[str] = Field(description="缺失 characteristics scored in the missing bin")


class DecisionExperiment(_Document):
    """实验抽签 / The experiment draw for this application id."""

    experiment: str = Field(description="实验 the experiment key (also the hash salt)")
    bucket: float = Field(description="桶 the application id's hash in [0, 1)")
    drawn_arm: str = Field(description="抽中组 the arm the bucket falls in")
    arm: str = Field(description="执行组 the arm acted on (the champion when in shadow)")
    shadow: bool = Field(description="影子模式 challengers scored but not acted on")
    shadow_arms: list[str] = Field(description="影子组 arms scored in shadow")


class DecisionReview(_Document):
    """审核结论 / The operator's verdict on a manual review."""

    decision_id: str = Field(description="决策号 the decision reviewed")
    verdict: Literal["APPROVE", "REJECT"] = Field(description="结论 the verdict")
    operator: str = Field(description="审核员 the operator's id")
    note: str = Field(description="审核意见 the operator's note")
    reviewed_at: str = Field(description="审核时间 ISO 8601, UTC")


class DecisionVerdictRecorded(DecisionReview):
    """审核已记录 / The verdict as recorded, with the final outcome."""

    final_outcome: Literal["APPROVE", "REJECT"] = Field(description="最终结论 the verdict's")


class StoredDecision(DecisionResponse):
    """决策记录 / A recorded decision without its trace."""

    channel: str = Field(description="渠道 api, async, cli or sim")
    created_at: str = Field(description="决策时间 ISO 8601, UTC")
    decision_date: str = Field(description="决策日 the Beijing business date ages are counted on")
    model: DecisionModelScore = Field(description="模型 the acted-on model's score")
    shadow: list[DecisionModelScore] = Field(description="影子评分 shadow models' scores")
    experiment: DecisionExperiment | None = Field(description="实验 the draw; null: none")
    inputs: dict[str, Any] = Field(
        description="请求 the application as received, identifiers masked (138****1234)"
    )
    context: dict[str, Any] = Field(
        description="规则上下文 the facts the policies read, as they were at decision time "
        "(docs/concepts/decisioning.md, 'The rule context')"
    )
    review: DecisionReview | None = Field(description="审核 the verdict; null: none yet")


class DecisionRecord(StoredDecision):
    """决策记录与轨迹 / A recorded decision with its rule trace."""

    trace: DecisionTrace = Field(description="规则轨迹 which rules matched, per policy")


class DecisionReplayed(_Document):
    """回放字段 / The fields a replay must reproduce."""

    outcome: OutcomeName = Field(description="结论 the outcome")
    reasons: list[DecisionReason] = Field(description="理由 the reasons")
    score: float = Field(description="评分 the score")
    pd: float = Field(description="违约概率 the PD")
    segment: str = Field(description="客群 the segment")
    score_band: str = Field(description="评分段 the score band")
    tier: str = Field(description="等级 the tier")
    offer: DecisionOffer | None = Field(description="报价 the offer")
    offer_refused: DecisionOfferRefused | None = Field(description="报价被拒 the refusal")
    policy_versions: dict[str, str] = Field(description=_VERSIONS)
    model_version: str = Field(description="模型版本 the model version")
    arm: str = Field(description="实验组 the arm")


class DecisionReplayedWithTrace(DecisionReplayed):
    """回放结果 / The replayed fields with the replay's own trace."""

    trace: DecisionTrace = Field(description="规则轨迹 the replay's trace")


class DecisionDifference(_Document):
    """差异 / A field on which the replay differs from the record."""

    field: str = Field(description="字段 the field")
    original: Any = Field(description="原值 the recorded value")
    replayed: Any = Field(description="回放值 the replayed value")


class DecisionReplay(_Document):
    """回放 / A stored decision re-run with its own policy, model and product versions."""

    decision_id: str = Field(description="决策号 the decision replayed")
    original: DecisionReplayed = Field(description="原决策 the recorded fields")
    replayed: DecisionReplayedWithTrace = Field(description="回放 the re-evaluated fields")
    equal: bool = Field(description="一致 true when no field differs")
    differences: list[DecisionDifference] = Field(description="差异 every field that differs")


class ReviewQueueItem(_Document):
    """待审核 / A manual review waiting for a verdict."""

    decision_id: str = Field(description="决策号 the decision")
    application_id: str = Field(description="申请号 the application")
    created_at: str = Field(description="决策时间 ISO 8601, UTC")
    product: str = Field(description="产品 product applied for")
    amount: str = Field(description=f"申请金额 {_YUAN}")
    term: int = Field(description="期限 term applied for")
    tier: str = Field(description="等级 the tier")
    score: float | None = Field(description="评分 the score")
    pd: float | None = Field(description="违约概率 the PD")
    reasons: list[DecisionReason] = Field(description="理由 the policy reasons only")
    offer: DecisionOffer | None = Field(description="报价 what an approval would grant")


class ReviewQueue(_Document):
    """审核队列 / Manual reviews without a verdict, oldest first."""

    items: list[ReviewQueueItem] = Field(description="待审核 the reviews")
    count: int = Field(description="条数 how many items")


class BlacklistEntry(_Document):
    """黑名单条目 / A listed identifier (its blind index, never its value)."""

    kind: str = Field(description="标识类型 id_number, phone, device_id, ip or bank_card")
    identifier_hash: str = Field(description="标识哈希 the blind index, 64 hex digits")
    reason: str = Field(description="原因 why it is listed")
    source: str = Field(description="来源 internal, court list, partner")
    created_at: str = Field(description="加入时间 ISO 8601, UTC")


class BlacklistPage(_Document):
    """黑名单 / A page of entries, newest first."""

    total: int = Field(description="总数 entries matching the filter")
    items: list[BlacklistEntry] = Field(description="条目 this page")


class BlacklistRemoved(_Document):
    """已移出 / What was removed."""

    removed: BlacklistEntry = Field(description="移出条目 the entry removed")


class ApplicationQueued(_Document):
    """已受理 / An asynchronous application, queued."""

    application_id: str = Field(description="申请号 64-bit id as a string")
    status: Literal["QUEUED"] = Field(description="状态 QUEUED")
    status_url: str = Field(description="状态地址 poll this (also the Location header)")


class ApplicationStatus(_Document):
    """申请状态 / Where an asynchronous application is."""

    application_id: str = Field(description="申请号 the application")
    status: Literal["QUEUED", "RUNNING", "DONE", "FAILED"] = Field(description="状态 its status")
    decision_id: str | None = Field(description="决策号 once DONE")
    error: ErrorInfo | None = Field(description="错误 once FAILED: why the decision refused it")
    created_at: str = Field(description="受理时间 ISO 8601")
    updated_at: str = Field(description="更新时间 ISO 8601")
    decision: StoredDecision | None = Field(None, description="决策 once DONE (no trace)")
    decision_url: str | None = Field(None, description="决策地址 once DONE: the record with trace")
