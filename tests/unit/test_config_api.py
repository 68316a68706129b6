"""``api.open`` in the controller configuration: off by default, checked by the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config
from tests.unit.test_config import ENV, MINIMAL, problems, write


def test_open_is_off_by_default(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, MINIMAL), ENV).api.open
    assert not settings.enabled
    assert settings.rate_per_minute == 30
    assert settings.address_rate_per_minute == 120
    assert settings.identity_cache_s == 60


def test_open_settings_load(tmp_path: Path) -> None:
    text = MINIMAL + "api:\n  open: {enabled: true, ratePerMinute: 5, identityCacheSeconds: 0}\n"
    settings = load_config(write(tmp_path, text), ENV).api.open
    assert settings.enabled
    assert settings.rate_per_minute == 5
    assert settings.address_rate_per_minute == 20
    assert settings.identity_cache_s == 0
    text = MINIMAL + "api:\n  open: {ratePerMinute: 5, addressRatePerMinute: 7}\n"
    assert load_config(write(tmp_path, text), ENV).api.open.address_rate_per_minute == 7


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("api:\n  open: {ratePerMinute: 0}\n", "ratePerMinute"),
        ("api:\n  open: {enabled: 'yes'}\n", "enabled"),
        ("api:\n  open: {rate: 5}\n", "rate"),
        ("api:\n  close: {}\n", "close"),
    ],
)
def test_bad_open_settings_name_the_field(tmp_path: Path, section: str, field: str) -> None:
    found = problems(tmp_path, MINIMAL + section)
    assert found
    assert any(field in problem for problem in found), found
