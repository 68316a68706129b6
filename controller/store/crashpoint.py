"""The store's crash points (the hook itself is shared: see ``controller.crashpoint``)."""

from __future__ import annotations

from controller.crashpoint import APPLY_STEPS, CRASHPOINT_VARIABLE, SYNC_STEPS, crashpoint

__all__ = ["APPLY_STEPS", "CRASHPOINT_VARIABLE", "SYNC_STEPS", "crashpoint"]
