"""The simulation: repeatable, clocks fire, figures add up, the command prints them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from gateway.tracking.cli import simulate_command
from gateway.tracking.simulate import SimulationConfig, simulate

CONFIG = Path(__file__).resolve().parents[3] / "config" / "demo"
SMALL = SimulationConfig(days=6, seed=7, episodes_per_year=4000, step=timedelta(hours=1))


def test_same_seed_same_run_and_the_clocks_fire() -> None:
    days: list[int] = []
    first = simulate(SMALL, CONFIG, progress=days.append)
    second = simulate(SMALL, CONFIG)
    assert sum(days) == SMALL.days
    assert first.episodes == second.episodes > 50
    assert first.clocks.by_kind == second.clocks.by_kind
    assert first.figures == second.figures
    fired = first.clocks.by_kind
    for kind in ("ack_received", "rhi_reminder", "rhi_breach", "strategy_discussion",
                 "police_update"):
        assert fired[kind] > 0, kind
    assert first.clocks.failed == 0
    figures = first.figures
    assert figures.episodes == first.episodes
    assert figures.rhi_completed_in_time <= figures.rhi_completed <= figures.rhi_owed
    assert 0 < figures.rhi_breached <= fired["rhi_breach"]
    assert sum(figures.repeat_triggers.values()) > 0
    assert figures.open_items["rhi_overdue"] == figures.rhi_breached


def test_another_seed_is_another_run() -> None:
    other = simulate(SimulationConfig(days=2, seed=8, episodes_per_year=4000), CONFIG)
    same = simulate(SimulationConfig(days=2, seed=7, episodes_per_year=4000), CONFIG)
    assert (other.episodes, other.clocks.fired) != (same.episodes, same.clocks.fired)


def test_command_prints_clocks_breaches_and_coordinator_figures() -> None:
    result = CliRunner().invoke(simulate_command, [
        "--days", "2", "--seed", "3", "--episodes-per-year", "3000", "--workers", "1",
        "--config-dir", str(CONFIG)])
    assert result.exit_code == 0, result.output
    for heading in ("clocks fired:", "breaches:", "coordinator figures", "RHIs owed",
                    "repeat-missing meetings", "days"):
        assert heading in result.output
