"""The one way a remote image enters the store: fetched only when asked, and only safely.

- http and https only, to the hosts the project file allows ([images] hosts; default: the source's host);
- the host is resolved once and every address checked: none loopback, private, link-local, multicast,
  reserved or unspecified unless the project file lists that address, or lists the host by name
  itself (the default host never opens the local network); the connection goes to the address
  checked, not to a second lookup (https still checks the certificate against the host's name);
- every redirect (at most MAX_REDIRECTS) is checked again the same way;
- at most `max_bytes`, read in pieces and stopped past it; connect and read timeouts; network errors,
  429 and 5xx tried again with exponential backoff (other 4xx are not); at most `per_host` connections
  to a host at once; a User-Agent naming the tool and its version;
- the [images] mirror sends a URL prefix to another http(s) prefix or to a `file:` folder (read from
  disk, no network); whatever was fetched is recorded under the address the post wrote.

What comes back is checked (kexue_anthology.images.check) before it is stored.  An image refused (unsafe,
not an image, not allowed) is recorded REFUSED and not asked for again; one that could not be fetched is
FAILED and asked for again on the next run; one FETCHED whose file is whole is not asked for at all.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from kexue_anthology import __version__
from kexue_anthology.config.project import Project
from kexue_anthology.images.check import check_image
from kexue_anthology.images.store import FAILED, FETCHED, REFUSED, ImageStore, StoredImage

USER_AGENT = f"kexue-anthology/{__version__} (anthology fetch; figures of posts for an offline book)"
MAX_REDIRECTS = 5
CACHED = "cached"                  # a result's status besides the store's three: found whole in the store


class Refused(Exception):
    """Not to be fetched (not allowed, unsafe, too large, not an image): not asked for again."""


class Failed(Exception):
    """Could not be fetched; `again`: worth another try within this run (network, 429, 5xx)."""

    def __init__(self, message: str, again: bool = True, wait: float | None = None) -> None:
        super().__init__(message)
        self.again, self.wait = again, wait


@dataclass(frozen=True)
class FetchPolicy:
    """Where images may come from and how they are fetched."""
    hosts: tuple[str, ...]                        # host names or addresses allowed
    mirror: tuple[tuple[str, str], ...] = ()      # URL prefix → http(s) prefix or file:// folder URI
    listed: bool = False                          # `hosts` given by the project file (may open private ones)
    max_bytes: int = 20 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5                          # seconds before the first retry, doubled each time
    per_host: int = 3
    workers: int = 8

    @classmethod
    def of(cls, project: Project) -> FetchPolicy:
        return cls(hosts=project.images_allowed, mirror=project.image_mirror,
                   listed=project.image_hosts is not None)


@dataclass(frozen=True)
class FetchResult:
    """What became of one address: FETCHED now, CACHED (whole in the store), REFUSED or FAILED."""
    url: str
    status: str
    reason: str = ""
    image: StoredImage | None = None
    requested: bool = False                       # whether anything was asked of a server or read from disk


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand, not to what a second lookup says."""

    def __init__(self, host: str, port: int | None, address: str, policy: FetchPolicy) -> None:
        super().__init__(host, port, timeout=policy.connect_timeout)
        self.address, self.read_timeout = address, policy.read_timeout

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.settimeout(self.read_timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """As _Pinned, over TLS: the certificate and SNI are the host name's."""

    def __init__(self, host: str, port: int | None, address: str, policy: FetchPolicy) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=policy.connect_timeout, context=self.tls)
        self.address, self.read_timeout = address, policy.read_timeout

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
        self.sock.settimeout(self.read_timeout)


class Fetcher:
    """Fetches addresses into `store` under `policy`; safe to use from several threads."""

    def __init__(self, store: ImageStore, policy: FetchPolicy,
                 resolve: Callable[[str, int], list[str]] | None = None) -> None:
        self.store, self.policy = store, policy
        self.allowed = {h.lower() for h in policy.hosts}
        self._resolve = resolve or _resolve
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}

    # --- one address ------------------------------------------------------------------------
    def fetch(self, url: str) -> FetchResult:
        """`url`'s image: from the store when it is there (or was refused), else fetched, checked and stored."""
        found = self.store.record(url)
        if found is not None and found.status == REFUSED:
            return FetchResult(url, REFUSED, found.reason)
        if found is not None and found.status == FETCHED:
            stored = self.store.lookup(url)
            if stored is not None:
                return FetchResult(url, CACHED, image=stored)
        try:
            self._allowed(url)
            data, declared = self._retrying(self._mirrored(url))
            checked = check_image(data, declared)
            if not checked.ok:
                raise Refused(checked.refused)
        except Refused as e:
            self.store.mark(url, REFUSED, str(e), _now())
            return FetchResult(url, REFUSED, str(e), requested=True)
        except Failed as e:
            self.store.mark(url, FAILED, str(e), _now())
            return FetchResult(url, FAILED, str(e), requested=True)
        image = self.store.put(url, checked.data, checked.media_type, checked.width, checked.height, _now())
        return FetchResult(url, FETCHED, image=image, requested=True)

    def fetch_all(self, urls: Iterable[str], done: Callable[[FetchResult], None] | None = None) -> list[FetchResult]:
        """Each distinct address once, several at a time; `done` is called (in this thread) as each ends."""
        distinct = list(dict.fromkeys(urls))
        results: dict[str, FetchResult] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.policy.workers)) as pool:
            futures = {pool.submit(self.fetch, url): url for url in distinct}
            for future in as_completed(futures):
                result = future.result()
                results[result.url] = result
                if done is not None:
                    done(result)
        return [results[url] for url in distinct]

    # --- policy ---------------------------------------------------------------------------
    def _allowed(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise Refused(f"not an http(s) address ({parts.scheme or 'no scheme'})")
        host = (parts.hostname or "").lower()
        if host not in self.allowed:
            raise Refused(f"host {host or '(none)'} is not among the project's [images] hosts "
                          f"({', '.join(sorted(self.allowed)) or 'none'})")

    def _mirrored(self, url: str) -> str:
        for prefix, target in self.policy.mirror:
            if url.startswith(prefix):
                return target + url[len(prefix):]
        return url

    def _address(self, host: str, port: int) -> str:
        """The first address of `host` that may be connected to; Refused when none may."""
        try:
            literal = ipaddress.ip_address(host)
            addresses = [str(literal)]
        except ValueError:
            try:
                addresses = self._resolve(host, port)
            except OSError as e:
                raise Failed(f"cannot resolve {host}: {e.strerror or e}") from None
        for address in addresses:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%")[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            local = (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                     or ip.is_unspecified)
            if not local or str(ip) in self.allowed or (self.policy.listed and host in self.allowed
                                                        and not _is_literal(host)):
                return address
        raise Refused(f"{host} is at {', '.join(addresses)}: a loopback, private or reserved address the "
                      "project's [images] hosts do not list")

    # --- fetching -------------------------------------------------------------------------
    def _retrying(self, url: str) -> tuple[bytes, str]:
        for attempt in range(self.policy.retries + 1):
            try:
                return self._get(url)
            except Failed as e:
                if not e.again or attempt == self.policy.retries:
                    raise
                time.sleep(min(e.wait if e.wait is not None else self.policy.backoff * 2 ** attempt, 30.0))
        raise AssertionError("unreachable")

    def _get(self, url: str) -> tuple[bytes, str]:
        """The body and Content-Type at `url`, following checked redirects."""
        if url.lower().startswith("file:"):
            return self._read_file(url), ""
        for _hop in range(MAX_REDIRECTS + 1):
            self._allowed(url)
            parts = urlsplit(url)
            host, tls = (parts.hostname or "").lower(), parts.scheme.lower() == "https"
            port = parts.port or (443 if tls else 80)
            address = self._address(host, port)
            with self._slot(host):
                location, body, declared = self._request(url, host, port, address, tls)
            if location is None:
                return body, declared
            url = urljoin(url, location)
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str, host: str, port: int, address: str,
                 tls: bool) -> tuple[str | None, bytes, str]:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = (_PinnedTLS if tls else _Pinned)(host, port, address, self.policy)
        try:
            conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "image/*",
                                               "Accept-Encoding": "identity"})
            response = conn.getresponse()
            status = response.status
            if status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise Failed(f"HTTP {status} without a Location", again=False)
                return location, b"", ""
            if status == 429 or status >= 500:
                raise Failed(f"HTTP {status} {response.reason}", wait=_retry_after(response.getheader("Retry-After")))
            if status != 200:
                raise Failed(f"HTTP {status} {response.reason}", again=False)
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > self.policy.max_bytes:
                raise Refused(f"{int(length):,} bytes, more than the limit of {self.policy.max_bytes:,}")
            body = _read_limited(response.read, self.policy.max_bytes)
            return None, body, response.getheader("Content-Type", "")
        except ssl.SSLCertVerificationError as e:
            raise Failed(f"{host}: certificate not valid ({e.verify_message})", again=False) from None
        except (OSError, http.client.HTTPException) as e:
            raise Failed(f"{host}: {type(e).__name__}: {e}") from None
        finally:
            conn.close()

    def _read_file(self, url: str) -> bytes:
        """A mirror's file: inside the mirror's folder, at most `max_bytes`."""
        path = Path(unquote(urlsplit(url).path)).resolve()
        folders = [Path(unquote(urlsplit(t).path)).resolve() for _, t in self.policy.mirror
                   if t.lower().startswith("file:")]
        if not any(path.is_relative_to(f) for f in folders):
            raise Refused("a file: address outside the mirror's folder")
        try:
            with open(path, "rb") as f:
                return _read_limited(f.read, self.policy.max_bytes)
        except OSError as e:
            raise Failed(f"{path}: {e.strerror or e}", again=False) from None

    def _slot(self, host: str) -> threading.Semaphore:
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.Semaphore(max(1, self.policy.per_host))
            return self._slots[host]


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str, port: int) -> list[str]:
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def _retry_after(value: str | None) -> float | None:
    return float(value) if value and value.strip().isdigit() else None


def _read_limited(read: Callable[[int], bytes], limit: int) -> bytes:
    """At most `limit` bytes; Refused as soon as there are more."""
    pieces: list[bytes] = []
    size = 0
    while True:
        piece = read(64 * 1024)
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > limit:
            raise Refused(f"more than the limit of {limit:,} bytes")
        pieces.append(piece)
