"""The encrypted, versioned git store and its hash-chained audit log (adapter: GitPython)."""
