"""Draft a hardship policy from a Chinese policy announcement, for a person to review.

Announcements state the numbers that matter in a handful of stock phrasings: 逾期超过九十天,
最高减免百分之三十, 分期期数最长不超过三十六期, 首付不低于10%, 不计复利, 罚息按日利率万分之五. Regular
expressions over each sentence find them (Chinese numerals included) and every finding keeps the
sentence it came from, so the reviewer checks the source, not the extractor.

The result is a DRAFT: ``draft: true`` at the top makes the policy store refuse it, and nothing
here writes into ``policies/hardship``. Reading "以上" as inclusive and "超过" as exclusive follows
the usual drafting convention (Civil Code Art. 1259); the reviewer has the sentence to confirm.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lendcore.hardship.chinese_numbers import parse_number, parse_percent, to_half_width
from lendcore.hardship.policy import LEGAL_MAX_PERIODS

_CN = "零〇一二两三四五六七八九十百千万"
NUM = rf"(?:\d+(?:\.\d+)?|[{_CN}]+(?:点[{_CN}]+)?)"
PCT = rf"(?:百分之{NUM}|\d+(?:\.\d+)?\s*%|[一二三四五六七八九]成)"
_SENTENCE_END = re.compile(r"[。；;！!？?\n]+")

_WAIVER_VERB = re.compile(r"减免|免除|豁免|核减|免收")
_PERCENT = re.compile(PCT)
_MAX_PERIODS = re.compile(
    rf"(?:最长|最多|不超过|至多|上限为?)(?:可)?(?:分)?(?:不超过|可达|为)?\s*({NUM})\s*(期|个月|年)"
)
_OVERDUE = re.compile(
    rf"逾期\s*(超过|超出|满|达到|达|在)?\s*({NUM})\s*(天|日|个月)\s*(以上|及以上|\(含\)|（含）)?"
)
_DOWN_PAYMENT = re.compile(
    rf"首付(?:款)?(?:比例)?\s*(不低于|不少于|至少|最低|最少|不高于|不超过|最高|为)?"
    rf"[^，,。；]*?({PCT})"
)
_RATE = re.compile(rf"(日|月|年)?(?:利率|费率)?\s*(?:为|按)?\s*(万分之{NUM}|千分之{NUM}|{PCT})")
_PROOF = re.compile(r"困难证明|证明材料|失业证明|诊断证明|收入证明|收入下降证明")
_NEGATION = re.compile(r"不予|不得|不计|不收|免收|停止计收|停止|不再")

_COMPONENTS = (
    ("罚息", "penalty"),
    ("利息", "interest"),
    ("违约金", "fees"),
    ("费用", "fees"),
    ("手续费", "fees"),
    ("本金", "principal"),
)
_ENTITIES = (
    ("罚息", "penalty_interest"),
    ("复利", "compound_interest"),
    ("违约金", "liquidated_damages"),
)

DRAFT_NOTICE = {
    "zh-CN": "本草稿由公告自动提取，未经人工审核不得使用；请逐项核对原文句子，补全其余字段后删除 draft 标记。",
    "en": "Extracted automatically from an announcement: never applied until a person reviews it. "
    "Check every value against its sentence, complete the other fields, then remove 'draft'.",
}


@dataclass(frozen=True)
class Finding:
    """One extracted value and the sentence it came from."""

    field: str  # dotted policy field, or an entity kind (penalty_interest ...)
    value: Any
    sentence: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        value = str(self.value) if isinstance(self.value, Decimal) else self.value
        out = {"field": self.field, "value": value, "sentence": self.sentence}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class _Draft:
    findings: list[Finding] = field(default_factory=list)
    sentence: str = ""  # the sentence being read, as written

    def add(self, field_: str, value: Any, matched: str, note: str = "") -> None:
        del matched  # the normalised text matched; the finding keeps the sentence as written
        self.findings.append(Finding(field_, value, self.sentence, note))

    def first(self, field_: str) -> Finding | None:
        return next((f for f in self.findings if f.field == field_), None)

    def values(self, field_: str) -> list[Any]:
        return [f.value for f in self.findings if f.field == field_]


def sentences(text: str) -> list[tuple[str, str]]:
    """(the sentence as written, its half-width form for matching): the reviewer sees the
    former, the patterns read the latter (the two have the same length)."""
    out = []
    for piece in _SENTENCE_END.split(text):
        if piece.strip():
            out.append((piece.strip(), to_half_width(piece.strip())))
    return out


def _ratio(text: str) -> Decimal | None:
    try:
        return parse_percent(text)
    except (ValueError, ArithmeticError):
        return None


def _waiver(draft: _Draft, sentence: str) -> None:
    if not _WAIVER_VERB.search(sentence):
        return
    if "本金" in sentence and re.search(r"本金[^，,。]*?(不予|不得|不)减免", sentence):
        draft.add("principal_reduction.allowed", False, sentence)
    ratios = [
        r
        for m in _PERCENT.finditer(sentence)
        if not sentence[max(0, m.start() - 8) : m.start()].count("首付")
        and (r := _ratio(m.group(0))) is not None
    ]
    if ratios:
        components = [name for word, name in _COMPONENTS if word in sentence]
        note = "components: " + ", ".join(dict.fromkeys(components)) if components else ""
        draft.add("waiver.max_ratio", max(ratios), sentence, note)


def _periods(draft: _Draft, sentence: str) -> None:
    if not ("分期" in sentence or "期数" in sentence):
        return
    for match in _MAX_PERIODS.finditer(sentence):
        number, unit = parse_number(match.group(1)), match.group(2)
        periods = int(number * 12) if unit == "年" else int(number)
        note = f"{match.group(0)}"
        if periods > LEGAL_MAX_PERIODS:
            note += f"; above the legal {LEGAL_MAX_PERIODS}-period bound: capped"
            periods = LEGAL_MAX_PERIODS
        draft.add("periods.max", periods, sentence, note)


def _overdue(draft: _Draft, sentence: str) -> None:
    for match in _OVERDUE.finditer(sentence):
        before, number, unit, after = match.groups()
        days = parse_number(number) * (30 if unit == "个月" else 1)
        inclusive = bool(after) or before in ("满", "达到", "达")
        over = int(days) - 1 if inclusive else int(days)
        note = f"{match.group(0)}: " + (
            f"at least {int(days)} days, so more than {over}" if inclusive else f"more than {over}"
        )
        if unit == "个月":
            note += "; months counted as 30 days"
        draft.add("eligibility.days_past_due_over", over, sentence, note)


def _down_payment(draft: _Draft, sentence: str) -> None:
    for match in _DOWN_PAYMENT.finditer(sentence):
        bound, percent = match.group(1) or "", match.group(2)
        ratio = _ratio(percent)
        if ratio is None:
            continue
        if bound in ("不高于", "不超过", "最高"):
            draft.add("down_payment.max_ratio", ratio, sentence, match.group(0))
        else:
            draft.add("down_payment.min_ratio", ratio, sentence, match.group(0))


def _rates(sentence: str, anchor: str) -> list[str]:
    """Rates stated after ``anchor`` in its clause (万分之五, 5%, 上浮50% ...), as text."""
    tail = re.split(r"[,，、]", sentence[sentence.index(anchor) :], maxsplit=1)[0]
    found = []
    for match in _RATE.finditer(tail):
        period, value = match.group(1), match.group(2)
        if value.startswith(("万分之", "千分之")):
            base = Decimal(10_000 if value.startswith("万") else 1000)
            ratio = parse_number(value[3:]) / base
        else:
            parsed = _ratio(value)
            if parsed is None:
                continue
            ratio = parsed
        label = {"日": "daily", "月": "monthly", "年": "annual"}.get(period or "", "")
        found.append(f"{ratio.normalize()} {label}".strip())
    return found


def _entities(draft: _Draft, sentence: str) -> None:
    for word, kind in _ENTITIES:
        if word not in sentence:
            continue
        clause = sentence[max(0, sentence.index(word) - 8) : sentence.index(word) + 12]
        stopped = bool(_NEGATION.search(clause)) or bool(_WAIVER_VERB.search(clause))
        draft.add(
            kind,
            {"rates": _rates(sentence, word), "waived_or_stopped": stopped},
            sentence,
        )
        if kind == "compound_interest" and stopped:
            draft.add("plan_terms.compound_interest_allowed", False, sentence)


def _proof(draft: _Draft, sentence: str) -> None:
    if _PROOF.search(sentence) and re.search(r"提供|需|须|应当|出具", sentence):
        draft.add("eligibility.proof_of_hardship_required", True, sentence)


def extract(text: str) -> list[Finding]:
    """Every finding in document order."""
    draft = _Draft()
    for original, normalised in sentences(text):
        draft.sentence = original
        for extractor in (_overdue, _proof, _waiver, _periods, _down_payment, _entities):
            extractor(draft, normalised)
    return draft.findings


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        *parents, leaf = dotted.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = str(value) if isinstance(value, Decimal) else value
    return out


def draft_policy(text: str, *, source_name: str = "announcement") -> dict[str, Any]:
    """The draft document: proposed fields (the first finding of each; ``alternatives`` lists
    the others), every finding with its sentence, and the fields nobody found."""
    findings = extract(text)
    proposed: dict[str, Any] = {}
    alternatives: dict[str, list[Any]] = {}
    for finding in findings:
        if "." not in finding.field:
            continue  # an entity, not a policy field
        if finding.field not in proposed:
            proposed[finding.field] = finding.value
        elif finding.value != proposed[finding.field]:
            alternatives.setdefault(finding.field, []).append(
                str(finding.value) if isinstance(finding.value, Decimal) else finding.value
            )
    wanted = (
        "eligibility.days_past_due_over",
        "eligibility.proof_of_hardship_required",
        "waiver.max_ratio",
        "periods.max",
        "down_payment.min_ratio",
    )
    return {
        "draft": True,
        "review_required": True,
        "notice": DRAFT_NOTICE,
        "source": {
            "name": source_name,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        },
        "proposed": _nested(proposed),
        "alternatives": alternatives,
        "missing": [name for name in wanted if name not in proposed],
        "findings": [f.to_dict() for f in findings],
    }
