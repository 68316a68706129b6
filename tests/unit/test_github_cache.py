"""The byte-bounded blob cache and the rule that it must hold a pull request at the cap."""

from __future__ import annotations

import pytest

from controller.documents import MAX_FILE_BYTES
from controller.github import GitHubClient, SnapshotReader
from controller.github.cache import ByteBudgetLru


def test_evicts_the_least_recently_used_until_the_bytes_fit() -> None:
    cache: ByteBudgetLru[str] = ByteBudgetLru(10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # now b is the least recently used
    cache.put("c", b"1234")
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (b"1234", b"1234")
    assert cache.size == 8


def test_replacing_a_key_counts_its_bytes_once_and_oversize_values_are_not_kept() -> None:
    cache: ByteBudgetLru[str] = ByteBudgetLru(10)
    cache.put("a", b"12345678")
    cache.put("a", b"12")
    assert (cache.size, len(cache)) == (2, 1)
    cache.put("big", b"x" * 11)
    assert cache.get("big") is None
    assert cache.get("a") == b"12"


def test_a_blob_budget_smaller_than_the_cap_at_the_file_limit_is_refused() -> None:
    client = GitHubClient.from_token("unused", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="must hold 10 files"):
        SnapshotReader(client, max_changed_files=10, blob_cache_bytes=10 * MAX_FILE_BYTES - 1)
    SnapshotReader(client, max_changed_files=10, blob_cache_bytes=10 * MAX_FILE_BYTES)
