"""A refund the provider refuses is tried again later and later, not on every tick."""

from __future__ import annotations

from qrcheckout.orders.payments import Retries


def test_each_failure_doubles_the_wait_up_to_an_hour() -> None:
    now = [100.0]
    retries = Retries(clock=lambda: now[0])
    assert retries.due("pi_1")
    waits = [retries.failed("pi_1") for _ in range(12)]
    assert waits[:4] == [5.0, 10.0, 20.0, 40.0]
    assert waits[-1] == 3600.0
    assert not retries.due("pi_1")
    now[0] += 3599.0
    assert not retries.due("pi_1")
    now[0] += 1.0
    assert retries.due("pi_1")
    assert retries.due("pi_2")  # another payment is not held back


def test_a_success_forgets_the_failures() -> None:
    now = [0.0]
    retries = Retries(clock=lambda: now[0])
    retries.failed("pi_1")
    retries.failed("pi_1")
    retries.succeeded("pi_1")
    assert retries.due("pi_1")
    assert retries.failed("pi_1") == 5.0
