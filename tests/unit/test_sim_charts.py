"""Inline SVG charts and the report's number formatting — pure."""

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from lendcore.sim.charts import Bar, Series, bar_chart, line_chart, nice_step
from lendcore.sim.html import grouped, percent
from lendcore.sim.report import ratio

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg):
    return [t.text for t in ET.fromstring(str(svg)).iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("span", "step"), [("95", "20"), ("1000", "200"), ("7", "2"), ("0.3", "0.1"), ("0", "1")]
)
def test_axis_steps_are_one_two_or_five_times_a_power_of_ten(span, step):
    assert nice_step(Decimal(span)) == Decimal(step)


def test_a_bar_chart_has_a_title_axis_ticks_labels_and_a_value_on_each_bar():
    svg = bar_chart(
        [Bar("M0", Decimal(116), sublabel="current"), Bar("M1", Decimal(17))], "Buckets", "loans"
    )
    labels = texts(svg)
    assert labels[0] == "Buckets"
    assert {"0", "50", "150", "M0", "M1", "current", "116", "17", "loans"} <= set(labels)
    assert len(ET.fromstring(str(svg)).findall(f"{SVG}rect")) == 2


def test_a_line_chart_has_both_axes_dates_and_a_legend():
    svg = line_chart(
        ["01-01", "01-02", "01-03"],
        [
            Series("principal", [Decimal(1), Decimal(5), Decimal(3)], "#000"),
            Series("share %", [Decimal("0.5"), Decimal(2), Decimal(1)], "#f00", axis="right"),
        ],
        "Trend",
        "10k yuan",
        "%",
        "date",
    )
    root = ET.fromstring(str(svg))
    assert len(root.findall(f"{SVG}polyline")) == 2
    labels = texts(svg)
    assert {"Trend", "10k yuan", "%", "date", "01-01", "01-03", "principal", "share %"} <= set(
        labels
    )


def test_chart_text_is_escaped():
    svg = bar_chart([Bar("<b>&", Decimal(1))], "a < b", "y")
    assert "<b>" not in str(svg) and "&lt;b&gt;&amp;" in str(svg)


def test_ratios_are_exact_four_place_half_up_strings():
    assert ratio(1, 3) == "0.3333"
    assert ratio(2, 3) == "0.6667"
    assert ratio(1, 0) == "0.0000"
    assert percent("0.0813") == "8.13%"


def test_amounts_for_people_are_grouped_by_thousands():
    assert grouped("1234567.80") == "1,234,567.80"
    assert grouped("-4961407.83") == "-4,961,407.83"
    assert grouped("0.00") == "0.00"
