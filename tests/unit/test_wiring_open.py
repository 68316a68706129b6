"""The controller serves ``POST /v1/open`` only when ``api.open.enabled`` says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.config import load_config
from controller.reconciler.ports import NullObserver
from controller.run.wiring import open_api
from controller.server.access_api import OpenApi
from tests.unit.access_fakes import FakeGrants
from tests.unit.test_config import ENV, MINIMAL, write


class _StoreWithGrants(FakeGrants):
    def read_secret(self, env: str, secret: str) -> Any:
        return None


def test_off_by_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), ENV)
    assert open_api(config, _StoreWithGrants(), NullObserver()) is None  # type: ignore[arg-type]


def test_on_when_enabled(tmp_path: Path) -> None:
    text = MINIMAL + "api:\n  open: {enabled: true, ratePerMinute: 3}\n"
    config = load_config(write(tmp_path, text), ENV)
    api = open_api(config, _StoreWithGrants(), NullObserver())  # type: ignore[arg-type]
    assert isinstance(api, OpenApi)
