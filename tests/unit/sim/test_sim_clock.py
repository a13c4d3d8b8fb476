"""The twin's real-time clock: wall time × speed, and a speed change takes effect from now on
without a jump in simulated time (``demo --serve`` drops to real time after its summary).

The wall clock is the test's own counter, handed to ``ScaledClock(monotonic=...)``: no sleeps.
"""

from __future__ import annotations

import pytest

from autoscaler.sim.clock import ScaledClock
from autoscaler.sim.spec import TwinSpec
from autoscaler.sim.twin import Twin


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_a_scaled_clock_runs_speed_times_as_fast_as_the_wall() -> None:
    wall = Wall()
    clock = ScaledClock(speed=240.0, start=1_000.0, monotonic=wall)
    assert clock.time() == 1_000.0
    wall.now += 10.0
    assert clock.time() == 1_000.0 + 2_400.0


def test_a_speed_change_applies_from_now_on_without_a_jump() -> None:
    wall = Wall()
    clock = ScaledClock(speed=240.0, start=0.0, monotonic=wall)
    wall.now += 10.0
    clock.set_speed(1.0)
    assert clock.time() == 2_400.0  # what elapsed at 240× stays elapsed
    wall.now += 5.0
    assert clock.time() == 2_405.0
    assert clock.speed == 1.0


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_a_clock_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="speed must be > 0"):
        ScaledClock(speed=speed)
    with pytest.raises(ValueError, match="speed must be > 0"):
        ScaledClock(speed=2.0).set_speed(speed)


def test_a_virtual_twin_has_no_speed_to_change() -> None:
    twin = Twin.create(TwinSpec(nodes=1, indices=()))
    with pytest.raises(RuntimeError, match="virtual clock has no speed"):
        twin.set_speed(1.0)
