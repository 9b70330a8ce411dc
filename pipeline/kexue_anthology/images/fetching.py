"""`anthology fetch` (and `build --fetch`): the remote images of the posts read, into the store.

Each distinct address is fetched once (kexue_anthology.images.fetcher); an image refused or not fetched
is a warning at every place a post shows it (`image-refused`, `image-failed`), and the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kexue_anthology.config.project import Project
from kexue_anthology.core import progress
from kexue_anthology.core.diagnostics import Diagnostics
from kexue_anthology.core.model import Post
from kexue_anthology.documents.pandoc_ast import Document
from kexue_anthology.images.addresses import remote_images
from kexue_anthology.images.fetcher import CACHED, Fetcher, FetchPolicy, FetchResult
from kexue_anthology.images.store import FAILED, FETCHED, REFUSED, ImageStore

IMAGE_REFUSED = "image-refused"     # not allowed, unsafe or no image: not asked for again
IMAGE_FAILED = "image-failed"       # could not be fetched: asked for again on the next fetch


@dataclass(frozen=True)
class FetchCounts:
    """Distinct addresses by what became of them, and how many were asked of a server (or a mirror)."""
    fetched: int = 0
    cached: int = 0
    refused: int = 0
    failed: int = 0
    requested: int = 0

    def line(self) -> str:
        return (f"images: {self.fetched} fetched, {self.cached} cached, {self.refused} refused, "
                f"{self.failed} failed")


def fetch_posts(posts: list[Post], asts: Mapping[str, Document], project: Project, cache_dir: Path,
                diagnostics: Diagnostics, policy: FetchPolicy | None = None) -> FetchCounts:
    """Fetch every remote image of `posts` (found in their documents `asts`) not yet in the store under
    `cache_dir`; warnings into `diagnostics`."""
    places = remote_images(posts, asts)
    fetcher = Fetcher(ImageStore(cache_dir), policy or FetchPolicy.of(project))
    urls = [p.url for p in places]
    with progress.task("fetch", len(set(urls)), "images"):
        results = fetcher.fetch_all(urls, lambda _result: progress.advance())
    by_url: dict[str, FetchResult] = {r.url: r for r in results}
    for place in places:
        result = by_url[place.url]
        if result.status == REFUSED:
            diagnostics.warning(IMAGE_REFUSED, f"image {place.url} refused: {result.reason}", place.position)
        elif result.status == FAILED:
            diagnostics.warning(IMAGE_FAILED, f"image {place.url} not fetched: {result.reason} (tried again on "
                                "the next fetch)", place.position)
    counts = Counter(r.status for r in results)
    return FetchCounts(fetched=counts[FETCHED], cached=counts[CACHED], refused=counts[REFUSED],
                       failed=counts[FAILED], requested=sum(r.requested for r in results))
