"""Where the controller keeps its keys when no ``--key-dir`` is given."""

from __future__ import annotations

import os
from pathlib import Path

KEY_DIR_VARIABLE = "SEALGATE_KEY_DIR"


def default_key_dir() -> Path:
    """``$SEALGATE_KEY_DIR``, else ``$XDG_CONFIG_HOME/sealgate/keys`` (``~/.config``)."""
    configured = os.environ.get(KEY_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "sealgate" / "keys"
