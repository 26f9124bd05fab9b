"""`gateway config check`: the directory, and every force's police mapping overrides."""

from __future__ import annotations

from pathlib import Path

from routing.directory_loader import ConfigProblem, check_directory, load_directory


def check_all(root: Path) -> list[ConfigProblem]:
    """Return every problem in the directory under `root` and in each force's mapping."""
    problems = check_directory(root)
    if problems:
        return problems
    from adapters.registry import POLICE_ADAPTERS, validate_police_mapping

    directory = load_directory(root)
    from gateway.intake.sftp_poller import check_pull_sections

    for reason in check_pull_sections(directory.forces.values()):
        problems.append(ConfigProblem(str(root / "forces"), "pull", reason))
    for force in directory.forces.values():
        source = root / "forces" / f"{force.id}.yaml"
        if force.adapter not in POLICE_ADAPTERS:
            problems.append(ConfigProblem(str(source), "adapter",
                                          f"{force.adapter!r} is not a registered police "
                                          f"adapter ({', '.join(sorted(POLICE_ADAPTERS))})"))
            continue
        for reason in validate_police_mapping(force.adapter, dict(force.mapping)):
            problems.append(ConfigProblem(str(source), "mapping", reason))
    return problems
