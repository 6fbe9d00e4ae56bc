"""``http(s)`` image URLs in chat messages: fetched, checked, and handed on as the data URIs they stand for.

``[server] image_urls`` says which URLs are fetched: ``"public"`` (the default) only from public addresses,
checked on the address actually connected to (``ponder.server.address_guard``), ``"any"`` from any address
(a server on a trusted network, or tests), ``"off"`` none (translation then refuses them, as it refuses
anything but a data URI). A fetch is a GET that must answer 200 with an image type Ponder reads (PNG, JPEG,
WebP, GIF) whose first bytes agree with it, no larger than ``MAX_MEDIA_BYTES`` (the body is streamed and
dropped at the cap), within ``image_url_timeout_s`` from the first lookup to the last byte, following at most
``MAX_REDIRECTS`` redirects, each to an ``http(s)`` URL and each connection checked again. One request
carries at most ``max_image_urls`` distinct URLs; they are fetched at once, each once, and together bring in
no more than ``max_body_bytes`` (what the request's body could have carried inline).

A URL that cannot be used is a 400 (``invalid_image_url``) naming the part and the reason (an address that
is not public, too large, the wrong type, too slow, the HTTP status): never the fetched body, never the
address a name resolved to. It does not decode or judge the image itself: perception does, as for any
image part.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpcore
import httpx

from ponder.config import ServerConfig
from ponder.server.address_guard import (
    AddressRefusedError,
    GuardedBackend,
    Resolver,
    SystemResolver,
    UnresolvableHostError,
    guarded_client,
)
from ponder.server.errors import ApiError
from ponder.server.protocol import ChatMessage, ImageContent, ImageUrl, UserContentPart, UserMessage
from ponder.server.translate import IMAGE_TYPES, MAX_MEDIA_BYTES

__all__ = ["MAX_REDIRECTS", "FetchedImage", "ImageFetcher", "ImageUrlError", "inline_image_urls"]

MAX_REDIRECTS = 3
MAX_URL_CHARS = 8192
_SHOWN_URL_CHARS = 200  # of a URL quoted back in an error
_HEADERS = {
    "Accept": ", ".join(sorted(IMAGE_TYPES)),
    "Accept-Encoding": "identity",  # the cap counts the bytes as sent: no decompression bombs
    "User-Agent": "ponder-image-fetch",
}


class ImageUrlError(Exception):
    """An image URL that cannot be used; the message says why, for the client, and holds none of the body."""

    def __init__(self, reason: str, url: str = "") -> None:
        super().__init__(reason)
        self.url = url  # set by fetch_all where the reason is found deeper down


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    media_type: str  # one of IMAGE_TYPES, as declared and as the bytes begin

    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def is_image_url(url: str) -> bool:
    """Whether ``url`` names a remote image (``http://`` or ``https://``) rather than carrying one."""
    return url[:8].lower().startswith(("http://", "https://"))


class ImageFetcher:
    """Fetches image URLs under one server's policy. The resolver, the network under the guard and the TLS
    context are injectable (tests use a stub resolver, a network that delivers every connection to a
    loopback server, and a context that trusts its certificate)."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        resolver: Resolver | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_bytes: int = MAX_MEDIA_BYTES,
    ) -> None:
        # One request's images together weigh no more than its body could have carried inline.
        self.max_total_bytes = config.max_body_bytes
        self.policy = config.image_urls
        self.timeout_s = config.image_url_timeout_s
        self.max_urls = config.max_image_urls
        self.max_bytes = max_bytes
        self.resolver = resolver or SystemResolver()  # one per server: its lookups in threads of their own
        self.network = network
        self._ssl = ssl_context  # None: the system's trust store (certifi's), built on first use

    @property
    def enabled(self) -> bool:
        return self.policy != "off"

    def client(self) -> httpx.AsyncClient:
        """A client whose every connection goes through the address guard (for one batch of fetches)."""
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        backend = GuardedBackend(self.resolver, public_only=self.policy != "any", inner=self.network)
        return guarded_client(backend, self._ssl, self.timeout_s, _HEADERS)

    async def fetch_all(self, urls: Iterable[str]) -> dict[str, FetchedImage]:
        """Each distinct URL fetched once, all at once; the first failure cancels the others and is raised
        as ``ImageUrlError`` (``.url`` set to the URL that failed)."""
        distinct = list(dict.fromkeys(urls))
        if not distinct:
            return {}
        found: dict[str, FetchedImage] = {}
        budget = _Budget(self.max_total_bytes)
        async with self.client() as client:

            async def one(url: str) -> None:
                try:
                    found[url] = await self.fetch(client, url, budget)
                except ImageUrlError as err:
                    err.url = url
                    raise

            try:
                async with asyncio.TaskGroup() as group:
                    for url in distinct:
                        group.create_task(one(url))
            except BaseExceptionGroup as failures:
                first = failures.exceptions[0]
                if isinstance(first, ImageUrlError):
                    raise first from None
                raise
        return found

    async def fetch(self, client: httpx.AsyncClient, url: str, budget: _Budget | None = None) -> FetchedImage:
        """One image, following redirects, its bytes also taken from ``budget`` (the batch's); every problem
        is an ``ImageUrlError``."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._follow(client, url, budget or _Budget(self.max_total_bytes))
        except TimeoutError:
            raise ImageUrlError(f"fetching it took longer than {self.timeout_s:g} s") from None
        except (AddressRefusedError, UnresolvableHostError) as err:
            raise ImageUrlError(str(err)) from None
        except httpx.TimeoutException:
            raise ImageUrlError(f"fetching it took longer than {self.timeout_s:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as err:
            raise ImageUrlError(f"it could not be fetched ({type(err).__name__})") from None
        except UnicodeError:  # a host name that is not valid IDNA (httpx or the resolver decoding it)
            raise ImageUrlError("its host name is not valid") from None
        except OSError as err:  # what the network layers below did not wrap
            raise ImageUrlError(f"it could not be fetched ({type(err).__name__})") from None

    async def _follow(self, client: httpx.AsyncClient, url: str, budget: _Budget) -> FetchedImage:
        target = _checked_url(httpx.URL(url))
        for _ in range(MAX_REDIRECTS + 1):
            async with client.stream("GET", target) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise ImageUrlError(f"it answered HTTP {response.status_code} without a Location")
                    target = _checked_url(target.join(location), redirect=True)
                    continue
                return await self._image(response, budget)
        raise ImageUrlError(f"it redirected more than {MAX_REDIRECTS} times")

    async def _image(self, response: httpx.Response, budget: _Budget) -> FetchedImage:
        if response.status_code != 200:
            raise ImageUrlError(f"it answered HTTP {response.status_code}")
        declared = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if declared not in IMAGE_TYPES:
            allowed = ", ".join(sorted(IMAGE_TYPES))
            shown = declared[:60] or "none"
            raise ImageUrlError(f"its content type is {shown}; allowed: {allowed}")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise ImageUrlError(f"it was sent with content-encoding {encoding[:30]}; send it uncompressed")
        cap = f"larger than {_size(self.max_bytes)}"
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise ImageUrlError(f"it is {cap}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > self.max_bytes:
                raise ImageUrlError(f"it is {cap}")
            budget.take(len(chunk))
            chunks.append(chunk)
        data = b"".join(chunks)
        if not data:
            raise ImageUrlError("it is empty")
        sniffed = sniff_image_type(data)
        if sniffed != declared:
            raise ImageUrlError(f"it was sent as {declared}, but its bytes are {sniffed or 'not an image'}")
        return FetchedImage(data, declared)


class _Budget:
    """The bytes one request's image URLs may still bring in, together."""

    def __init__(self, total: int) -> None:
        self.total = self.left = total

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise ImageUrlError(f"the request's images together are larger than {_size(self.total)}")


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


def sniff_image_type(data: bytes) -> str | None:
    """The image type the first bytes say (PNG, JPEG, GIF, WebP), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _checked_url(url: httpx.URL, *, redirect: bool = False) -> httpx.URL:
    what = "it redirected to" if redirect else "it is"
    if url.scheme not in ("http", "https") or not url.raw_host:
        raise ImageUrlError(f"{what} not an absolute http(s) URL")
    if url.port is not None and not 0 < url.port < 65536:
        raise ImageUrlError(f"{what} a URL with port {url.port}, outside 1-65535")
    return url


async def inline_image_urls(messages: Sequence[ChatMessage], fetcher: ImageFetcher) -> list[ChatMessage]:
    """``messages`` with every ``http(s)`` image URL of the user's parts replaced by the data URI of the
    image fetched; unchanged when the fetcher is off (translation then refuses the URLs). A URL that cannot
    be used, or more distinct URLs than ``max_image_urls``, is an ``ApiError`` 400."""
    places = _image_urls(messages) if fetcher.enabled else {}
    if not places:
        return list(messages)
    if len(places) > fetcher.max_urls:
        raise ApiError(
            400,
            f"The messages name {len(places)} image URLs; one request may carry at most {fetcher.max_urls}.",
            code="too_many_image_urls",
            param="messages",
        )
    try:
        for url in places:
            if len(url) > MAX_URL_CHARS:
                raise ImageUrlError(f"it is longer than {MAX_URL_CHARS} characters", url)
        images = await fetcher.fetch_all(places)
    except ImageUrlError as err:
        place = places.get(err.url, "messages")
        shown = err.url if len(err.url) <= _SHOWN_URL_CHARS else err.url[:_SHOWN_URL_CHARS] + "..."
        message = f"{place}: image URL {shown} cannot be used: {err}."
        raise ApiError(400, message, code="invalid_image_url", param=place) from None
    return [_inlined(message, images) for message in messages]


def _image_urls(messages: Sequence[ChatMessage]) -> dict[str, str]:
    """url -> the first part that names it (``messages[2].content[1]``), in order."""
    places: dict[str, str] = {}
    for index, message in enumerate(messages):
        if isinstance(message, UserMessage) and not isinstance(message.content, str):
            for i, part in enumerate(message.content):
                if isinstance(part, ImageContent) and is_image_url(part.image_url.url):
                    places.setdefault(part.image_url.url, f"messages[{index}].content[{i}]")
    return places


def _inlined(message: ChatMessage, images: dict[str, FetchedImage]) -> ChatMessage:
    if not isinstance(message, UserMessage) or isinstance(message.content, str):
        return message
    content: list[UserContentPart] = []
    for part in message.content:
        if isinstance(part, ImageContent) and part.image_url.url in images:
            url = images[part.image_url.url].data_uri()
            part = ImageContent(type="image_url", image_url=ImageUrl(url=url, detail=part.image_url.detail))
        content.append(part)
    return message.model_copy(update={"content": content})
