"""The loopback GitHub's imitated round trip: every answer takes at least the latency set."""

from __future__ import annotations

from pathlib import Path

import github
import pytest
from click.testing import CliRunner

from controller.cli import main
from controller.sandbox.github_server import GitHubApiServer
from controller.sandbox.github_server.latency import Latency, parse_latency


@pytest.mark.parametrize(
    ("text", "seconds"), [("100ms", 0.1), ("0.25s", 0.25), ("2", 2.0), (" 0ms ", 0.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_latency(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "-1ms", "1m", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="such as 100ms"):
        parse_latency(text)


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        Latency(-0.1)


def test_every_answer_waits_at_least_the_latency(tmp_path: Path) -> None:
    with GitHubApiServer(tmp_path, latency=Latency(0.06)) as hub:
        token = hub.add_user("alice")
        client = github.Github(base_url=hub.url, auth=github.Auth.Token(token), retry=None)
        assert client.get_user().login == "alice"
        (record,) = [r for r in hub.request_log if r.path == "/user"]
        # A sleep lasts at least as long as asked: a lower bound, never flaky.
        assert record.finished - record.started >= 0.06


def test_the_sandbox_refuses_a_latency_it_cannot_read() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--github-latency", "soon"])
    assert result.exit_code == 2
    assert "--github-latency" in result.output
