"""The approval policy engine: facts + documents -> decision (pure core)."""
