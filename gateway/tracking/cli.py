"""`gateway simulate`: a synthetic population through every clock, on a fake clock."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from gateway.tracking.simulate import (
    NATIONAL_EPISODES_PER_YEAR,
    SimulationConfig,
    SimulationResult,
    simulate,
)


def _default_config_dir() -> Path:
    from gateway.settings import load_settings

    return load_settings().config_dir


@click.command("simulate")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3660),
              help="Simulated days.")
@click.option("--seed", default=1, show_default=True, help="Random seed (same seed, same run).")
@click.option("--episodes-per-year", default=NATIONAL_EPISODES_PER_YEAR, show_default=True,
              type=click.IntRange(1), help="Missing episodes a year (national scale: 130,000).")
@click.option("--workers", default=min(2, os.cpu_count() or 1), show_default=True,
              type=click.IntRange(1, 64), help="Processes, each with its share of authorities.")
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep the scratch SQLite database here (default: a temporary file).")
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of authorities and forces (default: GATEWAY_CONFIG_DIR).")
def simulate_command(days: int, seed: int, episodes_per_year: int, workers: int,
                     database: Path | None, config_dir: Path | None) -> None:
    """Drive a synthetic population through tracking on a fake clock and print the figures.

    Children go missing, police update and find them, councils acknowledge (some late, some
    never) and hold Return Home Interviews (some late, some declined, some never); the
    clocks fire as they would in service. Prints clocks fired, breaches, and what a
    coordinator would see at the end.
    """
    config = SimulationConfig(days=days, seed=seed, episodes_per_year=episodes_per_year,
                              workers=workers, database=database)
    click.echo(f"simulating {days} days at {episodes_per_year:,} episodes a year "
               f"(seed {seed}, {workers} worker{'s' if workers > 1 else ''})")
    with click.progressbar(length=days, label="days", show_pos=True,
                           file=sys.stderr) as bar:
        result = simulate(config, config_dir or _default_config_dir(),
                          progress=lambda done: bar.update(done))
    for line in report_lines(result):
        click.echo(line)


def report_lines(result: SimulationResult) -> list[str]:
    """Return the printed report of a simulation."""
    figures, clocks = result.figures, result.clocks
    in_time = figures.rhi_in_time_percent
    lines = [
        f"episodes:            {result.episodes:,} ({result.events:,} police events, "
        f"{result.deliveries_sent:,} deliveries sent)",
        f"clocks fired:        {clocks.fired:,} in {result.wall_seconds:,.1f} s "
        f"({result.clocks_fired_per_second:,.0f}/s); failed {clocks.failed}",
    ]
    lines += [f"  {kind:<22} {count:>9,}" for kind, count in sorted(clocks.by_kind.items())]
    lines.append(f"breaches:            {clocks.breaches:,}")
    lines += [f"  {kind:<22} {count:>9,}"
              for kind, count in sorted(clocks.breaches_by_kind.items())]
    lines.append("outcomes:            " + ", ".join(
        f"{name} {count:,}" for name, count in sorted(clocks.outcomes.items())))
    lines += [
        "coordinator figures (at the end):",
        f"  still missing            {figures.still_missing:,}",
        f"  RHIs owed                {figures.rhi_owed:,} "
        f"(not required {figures.rhi_not_required:,})",
        f"  completed / in time      {figures.rhi_completed:,} / "
        f"{figures.rhi_completed_in_time:,}"
        + (f" ({in_time:.1f}% of owed within the due time)" if in_time is not None else ""),
        f"  declined / not possible  {figures.rhi_declined:,} / {figures.rhi_not_possible:,}",
        f"  overdue now / due 24 h   {figures.rhi_open_overdue:,} / {figures.rhi_due_next_24h:,}",
        f"  RHI breaches             {figures.rhi_breached:,}",
        "  offered (Annex A)        " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(figures.offered.items())),
        f"  deliveries tracked       {figures.deliveries_tracked:,}; never acknowledged "
        f"{figures.deliveries_unacknowledged:,}; escalated {figures.deliveries_escalated:,}",
        "  median minutes to receipt " + (f"{figures.median_ack_minutes:.0f}"
                                          if figures.median_ack_minutes is not None else "-"),
        "  repeat-missing meetings  " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(figures.repeat_triggers.items())),
        "  open coordinator items   " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(figures.open_items.items())),
    ]
    return lines
