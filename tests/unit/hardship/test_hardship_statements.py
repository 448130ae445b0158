"""Bank statements: parsed in the common layouts, cleaned, classified, summed, and checked for
forgery."""

from datetime import date

import pytest
from hardship_builders import (
    EMPLOYER,
    HOLDER,
    Tx,
    clean_transactions,
    csv_signed,
    csv_split,
    make_policy,
    shift,
    xlsx,
)

from lendcore.hardship.statement_parse import parse_amount, parse_date, parse_statement
from lendcore.hardship.statements import Category, analyse, classify
from lendcore.kernel.errors import ErrorCode, ValidationError

EVIDENCE = make_policy().evidence
AS_OF = date(2026, 6, 1)
SALARY = 812_345


def run(files, **kwargs):
    return analyse(files, EVIDENCE, as_of=kwargs.pop("as_of", AS_OF), **kwargs)


def codes(analysis):
    return {s.code for s in analysis.signals}


# ---- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("utf8_bom_split.csv", lambda t: csv_split(t)),
        ("gbk_split_newest_first.csv", lambda t: csv_split(t, encoding="gbk", newest_first=True)),
        ("gbk_signed.csv", lambda t: csv_signed(t)),
        ("utf8_signed.csv", lambda t: csv_signed(t, encoding="utf-8")),
        ("signed.xlsx", lambda t: xlsx(t)),
        ("marker.xlsx", lambda t: xlsx(t, marker=True)),
    ],
)
def test_every_layout_gives_the_same_figures(name, build):
    analysis = run([(name, build(clean_transactions()))])
    assert not analysis.flagged, analysis.signals
    assert analysis.totals[Category.SALARY] == 3 * SALARY
    assert analysis.monthly_net_income == SALARY  # three months of pay over three months
    assert analysis.monthly_essential == 250_000 + 15_000 + 5_000  # rent + electricity + phone
    assert analysis.monthly_loan_repayments == 100_000
    assert analysis.closing_balance == 500_000 + sum(t.amount for t in clean_transactions())


def test_the_header_is_found_below_a_preamble_and_the_holder_is_read():
    parsed = parse_statement("s.csv", csv_split(clean_transactions()))
    assert parsed.holder == HOLDER
    assert parsed.columns["income"] == "收入金额(元)"
    assert parsed.rows[0].line == 5  # three preamble lines, one header


def test_totals_rows_are_not_transactions():
    parsed = parse_statement("s.csv", csv_split(clean_transactions(months=1)))
    assert len(parsed.rows) == 8


@pytest.mark.parametrize(
    ("text", "fen"),
    [("¥1,234.56", 123_456), ("-500", -50_000), ("+500.00", 50_000), ("1 234.50元", 123_450),
     ("(200.00)", -20_000), ("", None), ("--", None)],
)  # fmt: skip
def test_amounts(text, fen):
    assert parse_amount(text) == fen


@pytest.mark.parametrize(
    ("text", "day"),
    [("2026-01-05", date(2026, 1, 5)), ("2026/1/5 10:23:11", date(2026, 1, 5)),
     ("2026年1月5日", date(2026, 1, 5)), ("20260105", date(2026, 1, 5)), ("2026-02-30", None)],
)  # fmt: skip
def test_dates(text, day):
    assert parse_date(text) == day


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.csv", b"", "empty"),
        ("notes.csv", "备注,说明\n你好,世界\n".encode(), "no header"),
        ("header_only.csv", "交易日期,交易金额,余额\n".encode(), "no transactions"),
        ("statement.pdf", b"%PDF-1.4", ".csv or .xlsx"),
        ("broken.xlsx", b"not a zip", "XLSX"),
        ("fraction.csv", "交易日期,交易金额\n2026-01-01,1.234\n".encode(), "two decimals"),
    ],
)
def test_unreadable_statements_are_refused_with_a_code(name, content, fragment):
    with pytest.raises(ValidationError, match=fragment) as caught:
        parse_statement(name, content)
    assert caught.value.code is ErrorCode.INVALID_STATEMENT


# ---- cleaning and classification -------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "counterparty", "summary", "category"),
    [
        (800_000, EMPLOYER, "代发工资", Category.SALARY),
        (800_000, "某某公司", "薪资", Category.SALARY),
        (50_000, "王五", "转账", Category.OTHER_INCOME),
        (-250_000, "李四", "房租", Category.RENT),
        (-250_000, "某某物业", "租金", Category.RENT),
        (-8_000, "自来水公司", "水费", Category.UTILITIES),
        (-9_000, "燃气公司", "燃气费", Category.UTILITIES),
        (-100_000, "支付宝", "花呗还款", Category.LOAN_REPAYMENT),
        (-100_000, "支付宝", "借呗", Category.LOAN_REPAYMENT),
        (-100_000, "某银行", "贷款还款", Category.LOAN_REPAYMENT),
        (-30_000, "某超市", "消费", Category.OTHER_SPENDING),
    ],
)
def test_classification(amount, counterparty, summary, category):
    assert classify(amount, counterparty, summary) is category


def test_transfers_between_own_accounts_are_neither_income_nor_spending():
    txs = clean_transactions()
    txs.insert(3, Tx(date(2026, 1, 11), 300_000, "转账", HOLDER))  # from the holder's other bank
    txs.insert(5, Tx(date(2026, 1, 13), -200_000, "转入本人账户", "张*"))
    txs.insert(7, Tx(date(2026, 1, 14), 100_000, "本人转入", ""))
    analysis = run([("s.csv", csv_split(txs))])
    assert not analysis.flagged
    assert analysis.dropped_internal == 3
    assert analysis.monthly_net_income == SALARY


def test_a_transfer_out_of_one_uploaded_account_into_another_is_internal():
    a = clean_transactions()
    a.append(Tx(date(2026, 3, 26), -400_000, "转账", "某某"))
    b = [
        Tx(date(2026, 3, 27), 400_000, "转账", "某某"),
        Tx(date(2026, 3, 28), -1_000, "消费", "店"),
    ]
    analysis = run([("a.csv", csv_split(a)), ("b.csv", csv_signed(b))])
    assert analysis.dropped_internal == 2
    assert analysis.totals[Category.OTHER_INCOME] == 0


def test_a_reversal_and_the_entry_it_undoes_are_dropped():
    txs = clean_transactions()
    txs.insert(4, Tx(date(2026, 1, 11), -999_900, "网购消费", "某电商"))
    txs.insert(5, Tx(date(2026, 1, 11), 999_900, "消费冲正", "某电商"))
    analysis = run([("s.csv", csv_split(txs))])
    assert not analysis.flagged
    assert analysis.dropped_reversals == 2
    assert analysis.totals[Category.OTHER_SPENDING] == 3 * (30_000 + 45_000 + 30_000)
    assert analysis.totals[Category.OTHER_INCOME] == 0


def test_a_clean_statement_is_not_flagged():
    analysis = run([("s.csv", csv_split(clean_transactions(months=6)))], as_of=date(2026, 7, 1))
    assert analysis.signals == ()
    assert not analysis.to_dict()["flagged"]


# ---- forgery signals -------------------------------------------------------------------


def test_a_balance_that_does_not_add_up_is_flagged():
    txs = clean_transactions()
    txs[10] = shift(txs[10], balance_error=100_000)  # one edited balance
    analysis = run([("s.csv", csv_split(txs))])
    assert "BALANCE_MISMATCH" in codes(analysis)


def test_an_edited_amount_breaks_the_running_balance():
    txs = clean_transactions()
    forged = csv_split(txs).decode("utf-8-sig").replace("¥8,123.45", "¥18,123.45", 1)
    analysis = run([("s.csv", forged.encode("utf-8-sig"))])
    assert "BALANCE_MISMATCH" in codes(analysis)


def test_duplicated_rows_are_flagged():
    content = csv_split(clean_transactions()).decode("utf-8-sig").splitlines()
    content.insert(8, content[7])  # the same row twice
    analysis = run([("s.csv", "\n".join(content).encode("utf-8"))])
    assert "DUPLICATE_ROWS" in codes(analysis)


def test_a_date_that_cannot_exist_is_flagged():
    txs = clean_transactions()
    txs[9] = shift(txs[9], date_text="2026-02-30")
    analysis = run([("s.csv", csv_split(txs))])
    assert "IMPOSSIBLE_DATE" in codes(analysis)


def test_a_future_date_is_flagged():
    analysis = run([("s.csv", csv_split(clean_transactions()))], as_of=date(2026, 3, 1))
    assert "IMPOSSIBLE_DATE" in codes(analysis)


def test_dates_out_of_order_beyond_the_tolerance_are_flagged():
    txs = clean_transactions()
    txs[12] = shift(txs[12], when=date(2026, 1, 2))  # a February row dated early January
    analysis = run([("s.csv", csv_split(txs))])
    assert "DATES_OUT_OF_ORDER" in codes(analysis)


def test_value_dates_a_day_or_two_apart_are_tolerated():
    txs = clean_transactions()
    txs[3] = shift(txs[3], when=date(2026, 1, 11))  # the 12th's row dated the 11th: fine
    txs[4] = shift(txs[4], when=date(2026, 1, 10))  # the 15th's row dated the 10th: 2 days back
    analysis = run([("s.csv", csv_split(txs))])
    assert "DATES_OUT_OF_ORDER" not in codes(analysis)


def test_wildly_varying_salaries_are_flagged():
    txs = clean_transactions(months=4)
    txs[10] = shift(txs[10], amount=3 * SALARY)
    analysis = run([("s.csv", csv_split(txs))])
    assert "SALARY_AMOUNT_ANOMALY" in codes(analysis)


def test_salaries_on_irregular_days_are_flagged():
    txs = clean_transactions(months=3)
    txs[2] = shift(txs[2], when=date(2026, 1, 4))
    txs[18] = shift(txs[18], when=date(2026, 3, 18))
    analysis = run([("s.csv", csv_split(txs))])
    assert "SALARY_IRREGULAR_DAYS" in codes(analysis)


def test_salaries_either_side_of_a_month_end_are_regular():
    txs = [
        Tx(date(2026, 1, 30), SALARY, "代发工资", EMPLOYER),
        Tx(date(2026, 3, 2), SALARY, "代发工资", EMPLOYER),
        Tx(date(2026, 3, 31), SALARY, "代发工资", EMPLOYER),
        Tx(date(2026, 4, 29), SALARY, "代发工资", EMPLOYER),
    ]
    analysis = run([("s.csv", csv_split(txs))])
    assert "SALARY_IRREGULAR_DAYS" not in codes(analysis)


def test_a_round_salary_from_an_individual_is_flagged():
    txs = clean_transactions()
    txs[2] = shift(txs[2], amount=800_000, counterparty="王小明", summary="工资")
    analysis = run([("s.csv", csv_split(txs))])
    assert "ROUND_SALARY_FROM_INDIVIDUAL" in codes(analysis)


def test_a_round_salary_from_an_employer_is_not_flagged():
    txs = [shift(t, amount=800_000) if t.summary == "代发工资" else t for t in clean_transactions()]
    assert "ROUND_SALARY_FROM_INDIVIDUAL" not in codes(run([("s.csv", csv_split(txs))]))


def test_signals_name_the_file_and_rows():
    txs = clean_transactions()
    txs[9] = shift(txs[9], date_text="2026-02-30")
    signal = next(
        s for s in run([("s.csv", csv_split(txs))]).signals if s.code == "IMPOSSIBLE_DATE"
    )
    document = signal.to_dict()
    assert document["file"] == "s.csv" and document["lines"] == [14]
    assert document["message_zh"] and document["message_en"]


def test_footer_lines_below_the_table_are_not_transactions():
    content = csv_split(clean_transactions(months=1)).decode("utf-8-sig")
    content += "温馨提示：本明细仅供参考,,,,,\n打印时间,,,,,\n"
    parsed = parse_statement("s.csv", content.encode("utf-8"))
    assert len(parsed.rows) == 8


# ---- signals across files ------------------------------------------------------------------


def _opening_after(txs, opening=500_000):
    return opening + sum(t.amount for t in txs)


@pytest.mark.parametrize(
    "second",
    [lambda t: ("again.csv", csv_split(t)), lambda t: ("same.xlsx", xlsx(t))],
    ids=["same-file-twice", "csv-and-xlsx"],
)
def test_the_same_statement_uploaded_twice_is_flagged(second):
    txs = clean_transactions()
    analysis = run([("s.csv", csv_split(txs)), second(txs)])
    assert "DUPLICATE_STATEMENT" in codes(analysis)
    signal = next(s for s in analysis.signals if s.code == "DUPLICATE_STATEMENT")
    assert signal.details["same_as"] == "s.csv" and signal.details["shared_rows"] == len(txs)


def test_two_exports_of_one_account_over_overlapping_months_are_flagged():
    txs = clean_transactions(months=4)
    january_to_march, february_to_april = txs[:24], txs[8:]
    analysis = run(
        [
            ("q1.csv", csv_signed(january_to_march)),
            ("feb-apr.csv", csv_signed(february_to_april, opening=_opening_after(txs[:8]))),
        ]
    )
    assert "OVERLAPPING_STATEMENTS" in codes(analysis)
    signal = next(s for s in analysis.signals if s.code == "OVERLAPPING_STATEMENTS")
    assert signal.details["overlap"] == {"start": "2026-02-03", "end": "2026-03-25"}


def test_the_same_account_number_over_overlapping_months_is_flagged_even_if_rows_differ():
    txs = clean_transactions()
    edited = [shift(t, amount=t.amount * 2) if t.summary == "代发工资" else t for t in txs]
    analysis = run([("a.csv", csv_split(txs)), ("b.csv", csv_split(edited, opening=1))])
    signal = next(s for s in analysis.signals if s.code == "OVERLAPPING_STATEMENTS")
    assert signal.details["account"] == "6222********1234"


def test_consecutive_exports_of_one_account_are_not_flagged():
    txs = clean_transactions(months=6)
    analysis = run(
        [
            ("h1.csv", csv_split(txs[:24])),
            ("h2.csv", csv_split(txs[24:], opening=_opening_after(txs[:24]))),
        ],
        as_of=date(2026, 7, 1),
    )
    assert not analysis.flagged, analysis.signals
    assert analysis.monthly_net_income == SALARY


def test_two_accounts_over_the_same_months_are_not_flagged():
    spending = [Tx(date(2026, 1, d), -12_300, "超市消费", "某某超市") for d in (4, 11, 18)]
    analysis = run(
        [("salary.csv", csv_signed(clean_transactions())), ("card.csv", csv_signed(spending))]
    )
    assert not {"DUPLICATE_STATEMENT", "OVERLAPPING_STATEMENTS"} & codes(analysis)
