"""Sealing, opening, fingerprints and envelope encryption (pure core, `cryptography` only)."""
