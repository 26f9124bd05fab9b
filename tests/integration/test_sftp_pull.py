"""SFTP pull against a real OpenSSH sshd: commit, then reply, then move; crash-safe; no partials."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.domain.routing import Channel
from gateway.intake import cli as intake_cli
from gateway.intake.sftp_poller import (
    PollReport,
    PullConfig,
    PullConfigError,
    SftpPoller,
    check_pull_sections,
    force_lock,
    pull_config,
    pull_configs,
)
from gateway.services import Services
from gateway.store import audit
from gateway.store.models import AuditEntry, CoordinatorItemRow, EpisodeRow, InboundMessage
from tests.conftest import REPO
from tests.support.messages import compact
from tests.support.sshd import SshServer, write_ed25519_key

pytestmark = pytest.mark.sshd

FORCE = "warwickshire-police"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


class Killed(BaseException):
    """Stands for the poller process dying at this point (not an error it could catch)."""


@pytest.fixture
def outbox(sshd_server: SshServer) -> Path:
    """The force's SFTP outbox folder on the test server (a local path: same machine)."""
    path = sshd_server.workdir / "outbox"
    path.mkdir()
    return path


def config_for(server: SshServer, outbox: Path, **overrides: Any) -> PullConfig:
    """Return the pull config of the test force, pinned to the test server's host key."""
    return PullConfig(force_id=FORCE, format="compact", channel=server.channel(outbox),
                      settle_seconds=overrides.pop("settle_seconds", 0.0), **overrides)


def poll(services: Services, config: PullConfig, **kwargs: Any) -> PollReport:
    """Poll once with a fresh poller."""
    return SftpPoller(services, **kwargs).poll(config)


def reply(outbox: Path, name: str) -> dict[str, Any]:
    """Return the reply file the gateway wrote for `name`."""
    data: dict[str, Any] = json.loads((outbox / "replies" / f"{name}.receipt.json").read_text())
    return data


def count(services: Services, model: Any) -> int:
    """Return how many rows a table holds."""
    with services.db.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_file_is_committed_processed_replied_then_moved(
        services: Services, sshd_server: SshServer, outbox: Path) -> None:
    body = compact("missing_reported_basic")
    (outbox / "WK-0417.xml").write_bytes(body)
    report = poll(services, config_for(sshd_server, outbox))
    assert report.error is None
    [filed] = report.filed
    assert filed.status == "PROCESSED"
    assert filed.receipt_id is not None
    assert not (outbox / "WK-0417.xml").exists()
    assert (outbox / "processed" / "WK-0417.xml").read_bytes() == body
    answer = reply(outbox, "WK-0417.xml")
    assert answer["receipt_id"] == filed.receipt_id
    assert answer["status"] == "PROCESSED"
    assert answer["errors"] == []
    assert answer["episode_id"]
    with services.db.read() as session:
        message = session.get(InboundMessage, filed.receipt_id)
        assert message is not None
        assert (message.channel, message.sender) == ("sftp", FORCE)
        assert message.source_name == str(outbox / "WK-0417.xml")
        actions = set(session.execute(select(AuditEntry.action).where(
            AuditEntry.subject_id == filed.receipt_id)).scalars())
    assert {"inbound.received", "inbound.sftp_filed"} <= actions
    assert services.pipeline.raw_body(filed.receipt_id) == body
    assert services.enqueue  # deliveries were queued, as for a pushed message


def test_invalid_file_goes_to_rejected_with_field_level_reasons(
        services: Services, sshd_server: SshServer, outbox: Path) -> None:
    body = compact("missing_reported_basic").replace(b'dateOfBirth="2011-06-02"',
                                                     b'dateOfBirth="2031-02-30"')
    (outbox / "bad.xml").write_bytes(body)
    [filed] = poll(services, config_for(sshd_server, outbox)).filed
    assert filed.status == "QUARANTINED"
    assert (outbox / "rejected" / "bad.xml").read_bytes() == body
    assert not (outbox / "processed" / "bad.xml").exists()
    answer = reply(outbox, "bad.xml")
    assert answer["status"] == "QUARANTINED"
    assert any(e["field"] == "child.date_of_birth" and e["value"] == "2031-02-30"
               for e in answer["errors"])
    assert count(services, EpisodeRow) == 0


def test_partial_hidden_and_growing_files_are_not_taken(
        services: Services, sshd_server: SshServer, outbox: Path) -> None:
    (outbox / "upload.xml.part").write_bytes(compact("missing_minimal")[:100])
    (outbox / ".in-progress.xml").write_bytes(b"<")
    growing = outbox / "growing.xml"
    growing.write_bytes(compact("missing_minimal"))
    (outbox / "done.xml").write_bytes(compact("missing_reported_basic"))

    def force_still_writing(_seconds: float) -> None:
        with growing.open("ab") as handle:
            handle.write(b"\n")

    report = poll(services, config_for(sshd_server, outbox, settle_seconds=1.0),
                  sleep=force_still_writing)
    assert [Path(f.remote_path).name for f in report.filed] == ["done.xml"]
    assert {"upload.xml.part", ".in-progress.xml", "growing.xml"} <= set(report.skipped)
    assert growing.exists()
    assert (outbox / "upload.xml.part").exists()
    # Once the force has finished writing, the next poll takes it.
    report = poll(services, config_for(sshd_server, outbox, settle_seconds=1.0),
                  sleep=lambda _s: None)
    assert [(Path(f.remote_path).name, f.status) for f in report.filed] == [
        ("growing.xml", "PROCESSED")]
    assert (outbox / "upload.xml.part").exists()


def test_crash_after_commit_before_move_makes_no_second_episode(
        services: Services, sshd_server: SshServer, outbox: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (outbox / "m.xml").write_bytes(compact("missing_reported_basic"))
    config = config_for(sshd_server, outbox)
    crashing = SftpPoller(services)

    def die(*_args: Any, **_kwargs: Any) -> str:
        raise Killed

    monkeypatch.setattr(crashing, "_move", die)
    with pytest.raises(Killed):
        crashing.poll(config)
    assert (outbox / "m.xml").exists()  # not moved: the force still sees it as pending
    queued = list(services.enqueue)  # type: ignore[call-overload]
    first = reply(outbox, "m.xml")

    report = poll(services, config)
    [filed] = report.filed
    assert filed.reused
    assert filed.receipt_id == first["receipt_id"]
    assert filed.status == "PROCESSED"
    assert (outbox / "processed" / "m.xml").exists()
    assert reply(outbox, "m.xml") == first
    assert count(services, InboundMessage) == 1
    assert count(services, EpisodeRow) == 1
    assert list(services.enqueue) == queued  # type: ignore[call-overload]


def test_crash_after_commit_before_processing_is_processed_by_the_next_poll(
        services: Services, sshd_server: SshServer, outbox: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (outbox / "m.xml").write_bytes(compact("missing_reported_basic"))
    config = config_for(sshd_server, outbox)
    real_process = services.pipeline.process

    def die(*_args: Any, **_kwargs: Any) -> Any:
        raise Killed

    monkeypatch.setattr(services.pipeline, "process", die)
    with pytest.raises(Killed):
        poll(services, config)
    assert (outbox / "m.xml").exists()
    assert not (outbox / "replies" / "m.xml.receipt.json").exists()
    with services.db.read() as session:
        assert session.execute(select(InboundMessage.status)).scalar_one() == "RECEIVED"

    monkeypatch.setattr(services.pipeline, "process", real_process)
    [filed] = poll(services, config).filed
    assert (filed.status, filed.reused) == ("PROCESSED", True)
    assert count(services, InboundMessage) == 1
    assert count(services, EpisodeRow) == 1
    assert reply(outbox, "m.xml")["status"] == "PROCESSED"


def test_same_message_under_a_new_name_is_a_duplicate_yet_replied_and_moved(
        services: Services, sshd_server: SshServer, outbox: Path) -> None:
    body = compact("missing_reported_basic")
    config = config_for(sshd_server, outbox)
    (outbox / "first.xml").write_bytes(body)
    [first] = poll(services, config).filed
    (outbox / "again.xml").write_bytes(body)
    [again] = poll(services, config).filed
    assert (first.status, again.status) == ("PROCESSED", "DUPLICATE")
    assert not again.reused
    assert (outbox / "processed" / "again.xml").exists()
    answer = reply(outbox, "again.xml")
    assert answer["status"] == "DUPLICATE"
    assert answer["episode_id"] == reply(outbox, "first.xml")["episode_id"]
    assert count(services, EpisodeRow) == 1


def test_a_file_that_fails_is_left_for_the_next_poll_and_does_not_block_the_rest(
        services: Services, sshd_server: SshServer, outbox: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (outbox / "a-poison.xml").write_bytes(compact("missing_minimal"))
    (outbox / "b-fine.xml").write_bytes(compact("missing_reported_basic"))
    os.utime(outbox / "a-poison.xml", (1_700_000_000, 1_700_000_000))
    real_receive = services.pipeline.receive

    def receive(fmt: str, raw: bytes, sender: str, **kwargs: Any) -> str:
        if kwargs.get("source_name", "").endswith("a-poison.xml"):
            raise ValueError("database said no")
        return real_receive(fmt, raw, sender, **kwargs)

    monkeypatch.setattr(services.pipeline, "receive", receive)
    config = config_for(sshd_server, outbox)
    report = poll(services, config)
    assert [Path(f.remote_path).name for f in report.filed] == ["b-fine.xml"]
    assert report.failed == ["a-poison.xml: database said no"]
    assert (outbox / "a-poison.xml").exists()
    poll(services, config)  # fails again: still one open item, not one per poll
    with services.db.read() as session:
        items = list(session.execute(select(CoordinatorItemRow.kind)).scalars())
    assert items.count("sftp_file_failed") == 1
    monkeypatch.setattr(services.pipeline, "receive", real_receive)
    [filed] = poll(services, config).filed
    assert (Path(filed.remote_path).name, filed.status) == ("a-poison.xml", "PROCESSED")


def test_reused_file_name_does_not_overwrite_the_earlier_file(
        services: Services, sshd_server: SshServer, outbox: Path) -> None:
    config = config_for(sshd_server, outbox)
    (outbox / "daily.xml").write_bytes(compact("missing_reported_basic"))
    poll(services, config)
    (outbox / "daily.xml").write_bytes(compact("missing_minimal"))
    [second] = poll(services, config).filed
    assert second.moved_to == str(outbox / "processed" / f"daily.xml.{second.receipt_id}")
    assert (outbox / "processed" / "daily.xml").read_bytes() == compact("missing_reported_basic")
    assert count(services, EpisodeRow) == 2


def test_files_are_taken_oldest_first_so_a_found_follows_its_missing_report(
        services: Services, sshd_server: SshServer, outbox: Path) -> None:
    (outbox / "b-found.xml").write_bytes(compact("found"))
    (outbox / "a-missing.xml").write_bytes(compact("missing_reported_basic"))
    os.utime(outbox / "b-found.xml", (1_700_000_000, 1_700_000_000))
    os.utime(outbox / "a-missing.xml", (1_700_000_100, 1_700_000_100))
    report = poll(services, config_for(sshd_server, outbox))
    assert [(Path(f.remote_path).name, f.status) for f in report.filed] == [
        ("b-found.xml", "HELD"), ("a-missing.xml", "PROCESSED")]
    # The held found was applied when its missing report arrived; both files are accepted.
    assert (outbox / "processed" / "b-found.xml").exists()
    with services.db.read() as session:
        assert session.execute(select(EpisodeRow.state)).scalar_one() == "FOUND"


def test_oversized_file_is_refused_unread_and_moved_aside(
        make_services: Callable[..., Services], sshd_server: SshServer, outbox: Path) -> None:
    services = make_services(GATEWAY_MAX_BODY_BYTES="1000")
    (outbox / "huge.xml").write_bytes(compact("missing_reported_basic"))  # 1.8 kB
    [filed] = poll(services, config_for(sshd_server, outbox)).filed
    assert (filed.status, filed.receipt_id) == ("REFUSED", None)
    assert (outbox / "rejected" / "huge.xml").exists()
    assert "limit is 1000" in reply(outbox, "huge.xml")["errors"][0]["message"]
    assert count(services, InboundMessage) == 0
    with services.db.read() as session:
        kinds = list(session.execute(select(CoordinatorItemRow.kind)).scalars())
    assert kinds == ["sftp_file_refused"]


def test_unpinned_host_key_takes_nothing_and_tells_a_coordinator_once(
        services: Services, sshd_server: SshServer, outbox: Path, tmp_path: Path) -> None:
    (outbox / "m.xml").write_bytes(compact("missing_reported_basic"))
    impostor = write_ed25519_key(tmp_path / "other_host_key", "impostor")
    channel = sshd_server.channel(outbox, host_key=impostor)
    config = PullConfig(force_id=FORCE, format="compact", channel=channel, settle_seconds=0)
    first = poll(services, config)
    second = poll(services, config)
    assert first.error is not None
    assert "host key" in first.error
    assert first.error.startswith("permanent")
    assert second.error is not None
    assert not first.filed
    assert not second.filed
    assert (outbox / "m.xml").exists()
    assert count(services, InboundMessage) == 0
    with services.db.read() as session:
        items = list(session.execute(select(CoordinatorItemRow)).scalars())
        assert audit.verify_chain(session).ok
    assert [i.kind for i in items] == ["sftp_pull_failed"]
    assert FORCE in items[0].message


def test_server_down_is_a_transient_error_and_the_next_poll_recovers(
        services: Services, sshd_server: SshServer, outbox: Path) -> None:
    (outbox / "m.xml").write_bytes(compact("missing_reported_basic"))
    config = config_for(sshd_server, outbox)
    sshd_server.stop()
    down = poll(services, config)
    assert down.error is not None
    assert down.error.startswith("transient")
    sshd_server.start()
    [filed] = poll(services, config).filed
    assert filed.status == "PROCESSED"


def test_a_second_poller_on_the_same_force_waits_its_turn(
        make_services: Callable[..., Services], database_url: str, sshd_server: SshServer,
        outbox: Path) -> None:
    services = make_services(database_url)
    (outbox / "m.xml").write_bytes(compact("missing_reported_basic"))
    config = config_for(sshd_server, outbox)
    with force_lock(services, FORCE) as held:
        assert held
        busy = poll(services, config)
        with force_lock(services, "kent-police") as other_force:
            assert other_force  # one force's poll does not block another's
    assert busy.busy
    assert not busy.filed
    assert (outbox / "m.xml").exists()
    [filed] = poll(services, config).filed
    assert filed.status == "PROCESSED"


def test_pull_section_of_a_force_file_is_read_and_checked() -> None:
    section = {"channel": {"address": "sftp://gw@sftp.example.police.uk:2222/outbox",
                           "options": {"private_key": "/keys/pull", "host_key": HOST_KEY}},
               "settle_seconds": 5, "replies": "/answers"}
    config = pull_config(FORCE, "niche", section)
    assert config.format == "niche"
    assert config.endpoint.port == 2222
    assert config.folder(config.processed) == "/outbox/processed"
    assert config.folder(config.replies) == "/answers"
    assert config.settle_seconds == 5
    assert isinstance(config.channel, Channel)
    with pytest.raises(PullConfigError, match="host key"):
        pull_config(FORCE, "compact", {"channel": {
            "address": "sftp://gw@h/outbox", "options": {"private_key": "/k"}}})
    with pytest.raises(PullConfigError, match=r"channel\.address"):
        pull_config(FORCE, "compact", {"channel": {"address": "ftp://h/x", "options": {}}})
    with pytest.raises(PullConfigError, match="colour"):
        pull_config(FORCE, "compact", {"colour": "blue", "channel": {
            "address": "sftp://gw@h/outbox", "options": {"private_key": "/k"}}})


def test_forces_with_a_pull_section_are_polled_and_broken_ones_reported(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    good = {"channel": {"address": "sftp://gw@h/outbox",
                        "options": {"private_key": "/k", "host_key": HOST_KEY}}}
    forces = {
        "a": SimpleNamespace(id="a", adapter="compact", pull=good),
        "b": SimpleNamespace(id="b", adapter="niche", pull={"channel": {"address": "x"}}),
        "c": SimpleNamespace(id="c", adapter="compact"),  # pushes over HTTPS
    }
    monkeypatch.setattr(services, "directory", SimpleNamespace(forces=forces))
    assert [(c.force_id, c.format) for c in pull_configs(services)] == [("a", "compact")]
    [problem] = check_pull_sections(forces.values())
    assert problem.startswith("forces/b.yaml: pull: channel.address")


def test_cli_polls_once_and_prints_what_it_did(
        services: Services, sshd_server: SshServer, outbox: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (outbox / "m.xml").write_bytes(compact("missing_reported_basic"))
    settings = services.settings
    for name, value in {"DATABASE_URL": settings.database_url,
                        "GATEWAY_DATA_DIR": str(settings.data_dir),
                        "GATEWAY_DATA_KEY": str(settings.data_key),
                        "GATEWAY_CACHE_DIR": str(REPO / "var" / "test-cache")}.items():
        monkeypatch.setenv(name, value)
    config = config_for(sshd_server, outbox)
    monkeypatch.setattr(intake_cli, "pull_configs", lambda _services: [config])
    runner = CliRunner()
    other = runner.invoke(intake_cli.intake, ["poll", "--force", "kent-police"])
    assert other.exit_code != 0
    assert "has no pull: section" in other.output
    result = runner.invoke(intake_cli.intake, ["poll", "--force", FORCE, "--once"])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    summary = json.loads(line)
    assert summary["force"] == FORCE
    assert summary["filed"][0]["status"] == "PROCESSED"
    assert (outbox / "processed" / "m.xml").exists()
    assert count(services, EpisodeRow) == 1
