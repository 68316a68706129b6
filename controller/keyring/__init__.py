"""Environment key pairs on disk, wrapped by a key-encryption key from a provider (adapter)."""
