"""``api.agents`` in the controller configuration: off by default, checked by the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config
from tests.unit.test_config import ENV, MINIMAL, problems, write


def test_agents_are_off_by_default(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, MINIMAL), ENV).api.agents
    assert not settings.enabled
    assert settings.audience == "sealgate"
    assert settings.rate_per_minute == 30
    assert settings.address_rate_per_minute == 120
    assert settings.max_wait_s == 60


def test_agents_settings_load(tmp_path: Path) -> None:
    text = (
        MINIMAL + "api:\n  agents: {enabled: true, audience: sealgate.example, ratePerMinute: 5,"
        " maxWait: 2m}\n"
    )
    settings = load_config(write(tmp_path, text), ENV).api.agents
    assert settings.enabled
    assert settings.audience == "sealgate.example"
    assert (settings.rate_per_minute, settings.address_rate_per_minute) == (5, 20)
    assert settings.max_wait_s == 120


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("api:\n  agents: {ratePerMinute: 0}\n", "ratePerMinute"),
        ("api:\n  agents: {maxWait: 10}\n", "maxWait"),
        ("api:\n  agents: {maxWait: 1d}\n", "maxWait"),
        ("api:\n  agents: {audience: ''}\n", "audience"),
        ("api:\n  agents: {token: x}\n", "token"),
    ],
)
def test_bad_agents_settings_are_refused(tmp_path: Path, section: str, field: str) -> None:
    found = problems(tmp_path, MINIMAL + section)
    assert found
    assert any(field in problem for problem in found), found
