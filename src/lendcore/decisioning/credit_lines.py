"""Credit lines (授信额度): opened from an approved decision, stepped up by on-time repayments.

The design, and why it is the simplest clean one:

- **Opening** is a service call, :func:`open_from_decision`, that servicing's ``open_loan`` makes
  when it is told which decision the loan comes from. The line lives in decisioning because its
  terms (limit, tier maximum, step-up rule) are the decision's offer; servicing never reads
  these tables, and this module never reads servicing's.
- **On time** is counted by :func:`record_on_time`, which ``repay`` calls in its own transaction
  with the number of instalments that payment settled in full on or before their due date.
  Counting where the repayment happens makes it exactly-once for free (``repay`` is idempotent by
  its key, so a retried payment never reaches here twice) and lets the step-up use the pure rule
  (:func:`pricing.count_on_time` over :func:`pricing.step_up_limit`) on the spot. An event
  consumer would have needed a new event, a cursor immune to out-of-order commits, and the
  step-up rule again in SQL.
- **Late** is consumed set-based from servicing's existing ``BECAME_OVERDUE`` outbox events by
  :func:`consume_overdue_events`, which the end-of-day runs inside each chunk's transaction right
  after it writes them: two statements per chunk and day, no loop per loan. The rule: an
  instalment going overdue resets the count toward the next step to zero (the borrower needs
  ``after`` fresh on-time repayments), counts in ``late_total`` and is a ``LATE`` history row. A
  line's ``last_overdue_event_id`` is a cursor: only events past it are counted, so a rerun
  counts nothing twice, even one that closes a loan opened since the first run; a borrower's
  events are all written by that borrower's chunk, in day order, so the cursor never skips one.

Every change is a numbered ``credit_line_events`` row; a step-up also leaves a
``CREDIT_LIMIT_STEPPED_UP`` outbox event (amount: the increase in fen) for notifications.
A new approved decision for a borrower who has a line **rebases** it: the new decision's tier
maximum and rule apply, the limit is the larger of the current limit and the new initial limit,
never above the new tier maximum (so a decision may cut a limit; repayments never do), and the
on-time count carries over. The line keeps the decision's ``applicant_key`` (the ID number's
blind index) so the *next* decision finds it and offers at least its limit
(``pricing.make_offer``), which is how a step-up reaches the borrower.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Date, DateTime, bindparam, func, insert, select, text, update

from lendcore.batch.tables import outbox
from lendcore.decisioning.credit_line_tables import credit_line_events, credit_lines
from lendcore.decisioning.decision_tables import decision_reviews, decisions
from lendcore.decisioning.pricing import LineProgress, StepUpRule, count_on_time
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.kernel.ids import partition_of
from lendcore.kernel.money import format_major, parse_major

STEPPED_UP_EVENT = "CREDIT_LIMIT_STEPPED_UP"


def _terms_of(connection: Connection, decision_id: int) -> dict[str, Any]:
    """The approved offer of a decision (a machine approval, or a review that approved it)."""
    row = connection.execute(
        select(decisions.c.outcome, decisions.c.result, decisions.c.applicant_key).where(
            decisions.c.decision_id == decision_id
        )
    ).first()
    if row is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_DECISION,
            f"no decision {decision_id}",
            {"decision_id": str(decision_id)},
        )
    final = row.outcome
    if final == "MANUAL_REVIEW":
        verdict = connection.execute(
            select(decision_reviews.c.verdict).where(decision_reviews.c.decision_id == decision_id)
        ).scalar()
        final = verdict or final
    response = row.result["response"]
    offer = response.get("offer")
    if final != "APPROVE" or not offer:
        raise PolicyViolation(
            ErrorCode.DECISION_NOT_APPROVED,
            f"decision {decision_id} is {final}: no credit line / 决策未批准，不能开立授信额度",
            {"decision_id": str(decision_id), "outcome": final},
        )
    return {
        "product_code": offer["product"],
        "tier": response.get("tier") or "",
        "initial_limit": parse_major(offer["credit_limit"]),
        "tier_max": parse_major(offer["tier_max"]),
        "step_up_after": int(offer["step_up"]["after"]),
        "step_up_factor": str(offer["step_up"]["factor"]),
        # the person's blind index: the next decision finds this line by it
        "applicant_key": row.applicant_key,
    }


def _line_for_update(connection: Connection, borrower_id: int) -> Any:
    query = select(credit_lines).where(credit_lines.c.borrower_id == borrower_id)
    if connection.dialect.name != "sqlite":  # SQLite: the unit of work holds the write lock
        query = query.with_for_update()
    return connection.execute(query).first()


def _history(connection: Connection, line: Any, **values: Any) -> None:
    connection.execute(insert(credit_line_events).values(borrower_id=line.borrower_id, **values))


def open_from_decision(
    connection: Connection,
    *,
    borrower_id: int,
    decision_id: int,
    loan_id: int,
    product_code: str,
    principal: int,
    business_date: date,
    now: datetime,
) -> None:
    """Open (or rebase) the borrower's line from an approved decision as a loan is opened on it.
    Refused, so the loan is not opened either: an unknown or unapproved decision, a loan in
    another product than the offer, a principal above the line."""
    terms = _terms_of(connection, decision_id)
    if product_code != terms["product_code"]:
        raise PolicyViolation(
            ErrorCode.INVALID_ARGUMENT,
            f"loan product {product_code} is not the offered {terms['product_code']}",
            {"decision_id": str(decision_id)},
        )
    line = _line_for_update(connection, borrower_id)
    if line is not None and line.decision_id == decision_id:
        limit = line.credit_limit  # a second loan on the same decision: the line stands
    elif line is None:
        limit = terms["initial_limit"]
        connection.execute(
            insert(credit_lines).values(
                borrower_id=borrower_id,
                partition_key=partition_of(borrower_id),
                decision_id=decision_id,
                credit_limit=limit,
                opened_at=now,
                updated_at=now,
                **terms,
            )
        )
        connection.execute(
            insert(credit_line_events).values(
                borrower_id=borrower_id,
                version=1,
                kind="OPENED",
                business_date=business_date,
                limit_before=0,
                limit_after=limit,
                on_time_before=0,
                on_time_after=0,
                late_total=0,
                decision_id=decision_id,
                loan_id=loan_id,
                details={"terms": _terms_document(terms)},
                created_at=now,
            )
        )
    else:
        limit = min(terms["tier_max"], max(line.credit_limit, terms["initial_limit"]))
        connection.execute(
            update(credit_lines)
            .where(credit_lines.c.borrower_id == borrower_id)
            .values(
                decision_id=decision_id,
                credit_limit=limit,
                version=line.version + 1,
                updated_at=now,
                **terms,
            )
        )
        _history(
            connection,
            line,
            version=line.version + 1,
            kind="REBASED",
            business_date=business_date,
            limit_before=line.credit_limit,
            limit_after=limit,
            on_time_before=line.on_time_count,
            on_time_after=line.on_time_count,
            late_total=line.late_total,
            decision_id=decision_id,
            loan_id=loan_id,
            details={
                "terms": _terms_document(terms),
                "previous_decision_id": str(line.decision_id),
            },
            created_at=now,
        )
    if principal > limit:
        raise PolicyViolation(
            ErrorCode.AMOUNT_OUT_OF_RANGE,
            f"principal {format_major(principal)} is above the credit line {format_major(limit)}"
            " / 借款金额超过授信额度",
            {"credit_limit": format_major(limit)},
        )


def record_on_time(
    connection: Connection,
    *,
    borrower_id: int,
    loan_id: int,
    count: int,
    business_date: date,
    now: datetime,
) -> LineProgress | None:
    """Count ``count`` instalments paid in full on or before their due date; step the limit up
    when the rule says so. A borrower without a line (a loan opened without a decision) has
    nothing to count: None."""
    line = _line_for_update(connection, borrower_id)
    if line is None or count <= 0:
        return None
    rule = StepUpRule(line.step_up_after, Decimal(line.step_up_factor))
    progress = count_on_time(
        line.credit_limit, line.on_time_count, count, rule, tier_max=line.tier_max
    )
    values: dict[str, Any] = {
        "on_time_count": progress.on_time,
        "on_time_total": line.on_time_total + count,
        "updated_at": now,
    }
    if progress.stepped_up:
        values.update(
            credit_limit=progress.limit, step_ups=line.step_ups + 1, version=line.version + 1
        )
        _history(
            connection,
            line,
            version=line.version + 1,
            kind="STEPPED_UP",
            business_date=business_date,
            limit_before=line.credit_limit,
            limit_after=progress.limit,
            on_time_before=line.on_time_count,
            on_time_after=progress.on_time,
            late_total=line.late_total,
            decision_id=line.decision_id,
            loan_id=loan_id,
            details={
                "on_time_counted": line.on_time_count + count,
                "rule": {"after": rule.after, "factor": str(rule.factor)},
                "tier_max": format_major(line.tier_max),
            },
            created_at=now,
        )
        connection.execute(
            insert(outbox).values(
                borrower_id=borrower_id,
                loan_id=loan_id,
                kind=STEPPED_UP_EVENT,
                business_date=business_date,
                amount=progress.limit - line.credit_limit,
            )
        )
    connection.execute(
        update(credit_lines).where(credit_lines.c.borrower_id == borrower_id).values(values)
    )
    return progress


# -- the end-of-day step: BECAME_OVERDUE events -> LATE (set-based, per chunk and day) -----------

# Only the events past the line's cursor: a rerun of a closed day that closes a loan opened
# since (booked with an earlier start, so it falls overdue that same day) writes a new event
# next to one the line already consumed, and must count the new one alone.
_OVERDUE = (
    "(SELECT o.borrower_id, count(*) AS n, max(o.event_id) AS last_event, "
    "min(o.loan_id) AS loan_id FROM outbox o JOIN credit_lines w ON w.borrower_id = o.borrower_id "
    "WHERE o.kind = 'BECAME_OVERDUE' AND o.business_date = :d "
    "AND o.event_id > w.last_overdue_event_id GROUP BY o.borrower_id)"
)
_IN_CHUNK = "c.partition_key >= :p0 AND c.partition_key < :p1"
_PARAMS = (bindparam("d", type_=Date), bindparam("now", type_=DateTime(timezone=True)))
# History first: it reads the line as it was (the count being reset, the version before).
_LATE_HISTORY = text(
    "INSERT INTO credit_line_events (borrower_id, version, kind, business_date, limit_before, "
    "limit_after, on_time_before, on_time_after, late_total, decision_id, loan_id, "
    "outbox_event_id, created_at) "
    "SELECT c.borrower_id, c.version + 1, 'LATE', :d, c.credit_limit, c.credit_limit, "
    "c.on_time_count, 0, c.late_total + e.n, c.decision_id, e.loan_id, e.last_event, :now "
    f"FROM credit_lines c JOIN {_OVERDUE} e ON e.borrower_id = c.borrower_id "
    f"WHERE {_IN_CHUNK} AND e.last_event > c.last_overdue_event_id"
).bindparams(*_PARAMS)
_LATE_LINES = text(
    "UPDATE credit_lines SET late_total = late_total + e.n, on_time_count = 0, "
    "version = version + 1, last_overdue_event_id = e.last_event, updated_at = :now "
    f"FROM {_OVERDUE} e WHERE e.borrower_id = credit_lines.borrower_id "
    "AND credit_lines.partition_key >= :p0 AND credit_lines.partition_key < :p1 "
    "AND e.last_event > credit_lines.last_overdue_event_id"
).bindparams(*_PARAMS)


def consume_overdue_events(
    connection: Connection, day: date, partitions: tuple[int, int], now: datetime
) -> int:
    """Apply the day's BECAME_OVERDUE events to the lines of one chunk; returns lines changed."""
    params = {"d": day, "p0": partitions[0], "p1": partitions[1], "now": now}
    connection.execute(_LATE_HISTORY, params)
    return int(connection.execute(_LATE_LINES, params).rowcount)


# -- reading -------------------------------------------------------------------------------------


def _terms_document(terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "product": terms["product_code"],
        "tier": terms["tier"],
        "initial_limit": format_major(terms["initial_limit"]),
        "tier_max": format_major(terms["tier_max"]),
        "step_up": {"after": terms["step_up_after"], "factor": terms["step_up_factor"]},
    }


def _moment(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def credit_line_document(connection: Connection, borrower_id: int) -> dict[str, Any]:
    """The borrower's line with its whole history, oldest change first."""
    line = connection.execute(
        select(credit_lines).where(credit_lines.c.borrower_id == borrower_id)
    ).first()
    if line is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_CREDIT_LINE,
            f"borrower {borrower_id} has no credit line / 该借款人没有授信额度",
            {"borrower_id": str(borrower_id)},
        )
    events = connection.execute(
        select(credit_line_events)
        .where(credit_line_events.c.borrower_id == borrower_id)
        .order_by(credit_line_events.c.version)
    ).all()
    return {
        "borrower_id": str(borrower_id),
        "product": line.product_code,
        "tier": line.tier,
        "decision_id": str(line.decision_id),
        "credit_limit": format_major(line.credit_limit),
        "initial_limit": format_major(line.initial_limit),
        "tier_max": format_major(line.tier_max),
        "step_up": {"after": line.step_up_after, "factor": line.step_up_factor},
        "on_time_count": line.on_time_count,
        "on_time_total": line.on_time_total,
        "late_total": line.late_total,
        "step_ups": line.step_ups,
        "opened_at": _moment(line.opened_at),
        "updated_at": _moment(line.updated_at),
        "history": [
            {
                "version": e.version,
                "kind": e.kind,
                "business_date": _moment(e.business_date),
                "limit_before": format_major(e.limit_before),
                "limit_after": format_major(e.limit_after),
                "on_time_before": e.on_time_before,
                "on_time_after": e.on_time_after,
                "late_total": e.late_total,
                "decision_id": None if e.decision_id is None else str(e.decision_id),
                "loan_id": None if e.loan_id is None else str(e.loan_id),
                "outbox_event_id": e.outbox_event_id,
                "details": e.details,
                "created_at": _moment(e.created_at),
            }
            for e in events
        ],
    }


def _average(total: int, count: int) -> int:
    """Half-up integer average in fen."""
    return (2 * total + count) // (2 * count) if count else 0


def step_up_summary(connection: Connection) -> dict[str, Any]:
    """How many lines exist and stepped up, and the stepped lines' average limit before
    (as first granted) and now."""
    lines = connection.execute(select(func.count()).select_from(credit_lines)).scalar_one()
    stepped, before, after = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(credit_lines.c.initial_limit), 0),
            func.coalesce(func.sum(credit_lines.c.credit_limit), 0),
        ).where(credit_lines.c.step_ups > 0)
    ).one()
    return {
        "lines": int(lines),
        "stepped_up": int(stepped),
        "average_limit_before": _average(int(before), int(stepped)),
        "average_limit_after": _average(int(after), int(stepped)),
    }
