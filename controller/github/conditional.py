"""Conditional GETs of paginated JSON lists: unchanged pages cost no rate-limit budget.

Each page is asked for with the ETag of its previous answer (``If-None-Match``). GitHub
answers an unchanged page with ``304 Not Modified``, which does not count against the rate
limit, and the page is served from memory. Pages are followed through the ``Link`` header,
so the cache also works for GitHub Enterprise Server's URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from requests.utils import parse_header_links

from controller.github.cache import LruCache
from controller.github.client import GitHubClient

MAX_PAGES = 40
"""Enough for GitHub's own caps (3000 files, 250 commits) at 100 per page."""


@dataclass(frozen=True, slots=True)
class _Page:
    etag: str
    items: tuple[Any, ...]
    next_url: str | None


@dataclass(frozen=True, slots=True)
class Listing:
    items: tuple[Any, ...]
    requests: int
    not_modified: int
    """How many of ``requests`` were answered 304."""


def _next_link(headers: dict[str, Any]) -> str | None:
    for link in parse_header_links(str(headers.get("link") or "")):
        if link.get("rel") == "next":
            return link.get("url")
    return None


class ConditionalLists:
    def __init__(self, client: GitHubClient, *, maxsize: int = 4096) -> None:
        self._client = client
        self._pages: LruCache[str, _Page] = LruCache(maxsize)

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        item_key: str | None = None,
        keep: Callable[[Any], Any] | None = None,
    ) -> Listing:
        """Every item of every page. ``item_key`` names the list inside an object answer
        (``check_runs``); ``keep`` turns each item into what is remembered and returned (a
        pull request's JSON is tens of kilobytes, most of which a caller never reads);
        callers wrap the call in ``github_errors``."""
        requester = self._client.github.requester
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        items: list[Any] = []
        requests = not_modified = 0
        while url is not None and requests < MAX_PAGES:
            key = f"{url}?{sorted((query or {}).items())}"
            known = self._pages.get(key)
            headers = {"If-None-Match": known.etag} if known else {}
            answer_headers, data = requester.requestJsonAndCheck(
                "GET", url, parameters=query, headers=headers
            )
            requests += 1
            if data is None and known is not None:
                not_modified += 1
                page = known
            else:
                found = data.get(item_key, []) if item_key and isinstance(data, dict) else data
                page = _Page(
                    etag=str(answer_headers.get("etag") or ""),
                    items=tuple(map(keep, found or ())) if keep else tuple(found or ()),
                    next_url=_next_link(answer_headers),
                )
                if page.etag:
                    self._pages.put(key, page)
            items.extend(page.items)
            # The next link already carries the whole query, page number included.
            url, query = page.next_url, None
        return Listing(items=tuple(items), requests=requests, not_modified=not_modified)

    def get_object(self, path: str) -> tuple[dict[str, Any], bool]:
        """One JSON object, and whether GitHub answered 304 (served from memory)."""
        requester = self._client.github.requester
        known = self._pages.get(path)
        headers = {"If-None-Match": known.etag} if known else {}
        answer_headers, data = requester.requestJsonAndCheck("GET", path, headers=headers)
        if data is None and known is not None:
            return dict(known.items[0]), True
        etag = str(answer_headers.get("etag") or "")
        if etag:
            self._pages.put(path, _Page(etag=etag, items=(data,), next_url=None))
        return dict(data), False
