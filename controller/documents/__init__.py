"""Load, validate and type the YAML documents (pure core: parses bytes it is given)."""
