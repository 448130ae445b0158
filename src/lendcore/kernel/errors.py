"""Domain errors with stable, machine-readable codes.

Every error a user can cause carries a code from :class:`ErrorCode`. Codes are part of the public
contract (CLI, API, logs): never rename one, only add.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_RATE = "INVALID_RATE"
    INVALID_TERM = "INVALID_TERM"
    INVALID_DATE = "INVALID_DATE"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNKNOWN_METHOD = "UNKNOWN_METHOD"
    UNKNOWN_DAY_COUNT = "UNKNOWN_DAY_COUNT"
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    INVALID_PRODUCT = "INVALID_PRODUCT"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    AMOUNT_OUT_OF_RANGE = "AMOUNT_OUT_OF_RANGE"
    TERM_OUT_OF_RANGE = "TERM_OUT_OF_RANGE"
    RATE_OUT_OF_RANGE = "RATE_OUT_OF_RANGE"
    RATE_CAP_EXCEEDED = "RATE_CAP_EXCEEDED"
    CAP_ABOVE_OUTER_BOUND = "CAP_ABOVE_OUTER_BOUND"
    IRR_NOT_FOUND = "IRR_NOT_FOUND"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    UNKNOWN_LOAN = "UNKNOWN_LOAN"
    LOAN_NOT_LIVE = "LOAN_NOT_LIVE"
    ALREADY_DISBURSED = "ALREADY_DISBURSED"
    DISBURSEMENT_FAILED = "DISBURSEMENT_FAILED"
    UNBALANCED_ENTRY = "UNBALANCED_ENTRY"
    INVALID_FACTS = "INVALID_FACTS"
    UNKNOWN_PACK = "UNKNOWN_PACK"
    INVALID_PACK = "INVALID_PACK"
    DECRYPTION_FAILED = "DECRYPTION_FAILED"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    INVALID_KEY_FILE = "INVALID_KEY_FILE"
    KEY_PROVIDER_NOT_CONFIGURED = "KEY_PROVIDER_NOT_CONFIGURED"
    INVALID_APPLICATION = "INVALID_APPLICATION"
    UNKNOWN_POLICY = "UNKNOWN_POLICY"
    INVALID_POLICY = "INVALID_POLICY"
    POLICY_EVALUATION_FAILED = "POLICY_EVALUATION_FAILED"
    INVALID_PROFILE = "INVALID_PROFILE"
    INVALID_MODEL = "INVALID_MODEL"
    UNKNOWN_MODEL = "UNKNOWN_MODEL"
    INVALID_EXPERIMENT = "INVALID_EXPERIMENT"
    UNKNOWN_ATTEMPT = "UNKNOWN_ATTEMPT"
    UNKNOWN_AGENT = "UNKNOWN_AGENT"
    UNKNOWN_CONTACT = "UNKNOWN_CONTACT"
    OUTCOME_CONFLICT = "OUTCOME_CONFLICT"
    DIALER_UNAVAILABLE = "DIALER_UNAVAILABLE"
    SCRIPT_REVEALS_DEBT = "SCRIPT_REVEALS_DEBT"
    AUDIT_CHAIN_BROKEN = "AUDIT_CHAIN_BROKEN"
    INVALID_RESTRUCTURE = "INVALID_RESTRUCTURE"
    CASE_NOT_FOUND = "CASE_NOT_FOUND"
    CASE_STATE_CONFLICT = "CASE_STATE_CONFLICT"
    UNKNOWN_APPLICATION = "UNKNOWN_APPLICATION"
    UNKNOWN_DECISION = "UNKNOWN_DECISION"
    NOT_UNDER_REVIEW = "NOT_UNDER_REVIEW"
    VERDICT_ALREADY_RECORDED = "VERDICT_ALREADY_RECORDED"
    UNKNOWN_BLACKLIST_ENTRY = "UNKNOWN_BLACKLIST_ENTRY"
    BLACKLIST_ENTRY_EXISTS = "BLACKLIST_ENTRY_EXISTS"
    INVALID_STATEMENT = "INVALID_STATEMENT"
    SCRIPT_BANNED_PHRASE = "SCRIPT_BANNED_PHRASE"
    UNKNOWN_HARDSHIP_POLICY = "UNKNOWN_HARDSHIP_POLICY"
    INVALID_HARDSHIP_POLICY = "INVALID_HARDSHIP_POLICY"
    UNKNOWN_CREDIT_LINE = "UNKNOWN_CREDIT_LINE"
    DECISION_NOT_APPROVED = "DECISION_NOT_APPROVED"
    INVALID_IP_LIST = "INVALID_IP_LIST"


class LendcoreError(Exception):
    """Base of every domain error: a stable code, a human message, optional details."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message, "details": self.details}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationError(LendcoreError):
    """Input that can never be valid (bad amount, unknown method ...)."""


class PolicyViolation(LendcoreError):
    """Input that is well-formed but refused by a rule (a product range, the rate cap ...)."""
