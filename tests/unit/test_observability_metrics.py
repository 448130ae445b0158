"""Labelled counters: read-back sums over matching label sets; fresh instances are independent
of the process-wide registry."""

import pytest

from lendcore.observability.metrics import LabelledCounter


def test_value_sums_every_label_set_that_includes_the_asked_labels():
    counter = LabelledCounter("t_alerts_total", "test", ["kind", "subject"])
    counter.inc(kind="PSI_DRIFT", subject="score")
    counter.inc(2, kind="PSI_DRIFT", subject="savings")
    counter.inc(kind="REJECT_RATE_SPIKE", subject="reject_rate")
    assert counter.value(kind="PSI_DRIFT") == 3
    assert counter.value(kind="PSI_DRIFT", subject="savings") == 2
    assert counter.value() == 4


def test_two_counters_with_one_name_do_not_collide():
    first = LabelledCounter("t_same_total", "test", ["verdict"])
    second = LabelledCounter("t_same_total", "test", ["verdict"])
    first.inc(verdict="allowed")
    assert second.value() == 0


def test_a_missing_label_is_refused():
    counter = LabelledCounter("t_labels_total", "test", ["verdict"])
    with pytest.raises(ValueError):
        counter.inc()
