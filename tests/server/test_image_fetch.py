"""Image URLs: fetched from a real HTTP server on loopback, with the caps, the type checks, the redirects and
the address guard; and through the chat route, end to end.

No test connects to a non-loopback address. Under ``"public"``, names resolve through a stub resolver to
public addresses, and a network backend that delivers every connection to the loopback server stands in for
the network (it records where each connection was meant to go).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import openai
import pytest

from ponder.config import ServerConfig
from ponder.server.address_guard import IPAddress, UnresolvableHostError
from ponder.server.errors import ApiError
from ponder.server.image_fetch import ImageFetcher, ImageUrlError, inline_image_urls
from ponder.server.protocol import ImageContent, TextContent, UserMessage
from ponder.testing import ScriptedModel
from ponder.testing.media import render_lines, to_format

from .conftest import LiveServer

PNG = to_format(render_lines(["HELLO"], size=20), "PNG")
BIG_STREAM = 64 * 1024 * 1024  # what /big.png would send, were it read to the end


@dataclass
class ImageServer:
    """A real HTTP server on loopback serving the routes of ``_Handler``."""

    port: int
    hits: Counter[str] = field(default_factory=Counter)  # path -> requests
    hosts: list[str] = field(default_factory=list)  # the Host header of each request
    release: threading.Event = field(default_factory=threading.Event)  # lets /slow.png answer
    streamed: list[int] = field(default_factory=list)  # bytes /big.png sent before the client hung up
    stream_ended: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    images: ImageServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", headers.pop("length", str(len(body))))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.images.hits[path] += 1
        self.images.hosts.append(self.headers.get("Host", ""))
        if path in ("/sign.png", "/also.png"):
            self._send(200, PNG, "image/png; charset=binary")
        elif path == "/page.html":
            self._send(200, b"<html>secret page</html>", "text/html")
        elif path == "/liar.png":
            self._send(200, b"<html>secret page</html>", "image/png")
        elif path == "/gzipped.png":
            self._send(200, PNG, "image/png", Content_Encoding="gzip")
        elif path == "/missing.png":
            self._send(404, b"secret page", "text/plain")
        elif path == "/declared-big.png":
            self._send(200, PNG, "image/png", length=str(50 * 1024 * 1024))
        elif path == "/slow.png":
            self.images.release.wait(30)
            self._send(200, PNG, "image/png")
        elif path == "/redirect":
            (to,) = parse_qs(urlsplit(self.path).query)["to"]
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/big.png":
            self._stream_big()
        else:
            self._send(404, b"", "text/plain")

    def _stream_big(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()  # no length: the client learns the size only by reading
        sent = 0
        try:
            self.wfile.write(PNG[:8])
            chunk = b"\0" * 65536
            while sent < BIG_STREAM:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            self.images.streamed.append(sent)
            self.images.stream_ended.set()


@contextlib.contextmanager
def _serving(tls: ssl.SSLContext | None = None) -> Iterator[ImageServer]:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state = ImageServer(server.server_address[1])
    handler.images = state
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def images() -> Iterator[ImageServer]:
    with _serving() as state:
        yield state


class StubResolver:
    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        try:  # an address stands for itself, as with getaddrinfo
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        if host not in self.table:
            raise UnresolvableHostError("its host could not be resolved")
        return [ipaddress.ip_address(self.table[host])]


class LoopbackNetwork(httpcore.AsyncNetworkBackend):
    """Stands in for the internet: every connection, to whatever address, reaches the loopback server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connects: list[str] = []  # the addresses connections were meant for
        self.real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        return await self.real.connect_tcp("127.0.0.1", self.port, *args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await self.real.sleep(seconds)


PUBLIC_NAMES = {"cdn.example.com": "93.184.216.34", "internal.example.com": "10.0.0.5"}


def fetcher(policy: str = "any", **options: Any) -> ImageFetcher:
    config = ServerConfig(image_urls=policy, **options)
    return ImageFetcher(config)


def public_fetcher(images: ImageServer) -> tuple[ImageFetcher, LoopbackNetwork]:
    network = LoopbackNetwork(images.port)
    return ImageFetcher(ServerConfig(), resolver=StubResolver(PUBLIC_NAMES), network=network), network


async def fetch(f: ImageFetcher, url: str) -> bytes:
    found = await f.fetch_all([url])
    return found[url].data


# --- the fetcher -------------------------------------------------------------------------------------


async def test_an_image_is_fetched_with_its_type(images: ImageServer) -> None:
    found = await fetcher().fetch_all([images.url("/sign.png")])
    image = found[images.url("/sign.png")]
    assert image.data == PNG and image.media_type == "image/png"
    assert image.data_uri() == "data:image/png;base64," + base64.b64encode(PNG).decode()


async def test_a_public_name_is_fetched_with_its_host_header(images: ImageServer) -> None:
    f, network = public_fetcher(images)
    assert await fetch(f, f"http://cdn.example.com:{images.port}/sign.png") == PNG
    assert network.connects == ["93.184.216.34"]  # the address the stub resolved, checked
    assert images.hosts == [f"cdn.example.com:{images.port}"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "2130706433", "0x7f.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0", "[::1]"]
)
async def test_loopback_in_any_spelling_is_refused_by_default(images: ImageServer, host: str) -> None:
    with pytest.raises(ImageUrlError, match="not public"):
        await fetch(fetcher("public"), f"http://{host}:{images.port}/sign.png")
    assert images.hits["/sign.png"] == 0


async def test_a_public_name_resolving_to_a_private_address_is_refused(images: ImageServer) -> None:
    f, network = public_fetcher(images)
    with pytest.raises(ImageUrlError, match="not public"):
        await fetch(f, f"http://internal.example.com:{images.port}/sign.png")
    assert network.connects == []


@pytest.mark.parametrize(
    "target",
    [
        "http://internal.example.com:{port}/sign.png",
        "http://127.0.0.1:{port}/sign.png",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(images: ImageServer, target: str) -> None:
    f, network = public_fetcher(images)
    first = f"http://cdn.example.com:{images.port}/redirect?to={target.format(port=images.port)}"
    with pytest.raises(ImageUrlError, match="not public"):
        await fetch(f, first)
    assert network.connects == ["93.184.216.34"]  # the first hop only
    assert images.hits == Counter({"/redirect": 1})


async def test_redirects_are_followed_a_few_times_to_http_urls_only(images: ImageServer) -> None:
    sign = images.url("/sign.png")
    assert await fetch(fetcher(), images.url(f"/redirect?to={sign}")) == PNG
    loop = images.url("/redirect?to=/redirect%3Fto%3D/redirect%253Fto%253D/redirect%25253Fto%25253D/sign.png")
    with pytest.raises(ImageUrlError, match="redirected more than 3 times"):
        await fetch(fetcher(), loop)
    with pytest.raises(ImageUrlError, match="redirected to not an absolute http"):
        await fetch(fetcher(), images.url("/redirect?to=file:///etc/passwd"))


async def test_an_oversized_image_is_dropped_mid_stream(images: ImageServer) -> None:
    f = ImageFetcher(ServerConfig(image_urls="any"), max_bytes=256 * 1024)
    with pytest.raises(ImageUrlError, match="larger than 256 KiB"):
        await fetch(f, images.url("/big.png"))
    assert images.stream_ended.wait(10)
    assert images.streamed[0] < BIG_STREAM  # the client hung up long before the end


async def test_the_images_of_one_request_together_are_capped_at_its_body_limit(images: ImageServer) -> None:
    urls = [images.url("/sign.png"), images.url("/also.png")]
    assert len(await fetcher(max_body_bytes=2 * len(PNG)).fetch_all(urls)) == 2
    with pytest.raises(ImageUrlError, match="images together are larger than"):
        await fetcher(max_body_bytes=2 * len(PNG) - 1).fetch_all(urls)


async def test_a_declared_length_over_the_cap_is_refused_before_reading(images: ImageServer) -> None:
    with pytest.raises(ImageUrlError, match="larger than 10 MiB"):
        await fetch(fetcher(), images.url("/declared-big.png"))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/page.html", "its content type is text/html"),
        ("/liar.png", "sent as image/png, but its bytes are not an image"),
        ("/gzipped.png", "content-encoding gzip"),
        ("/missing.png", "answered HTTP 404"),
    ],
)
async def test_what_is_not_an_image_is_refused_without_its_body(
    images: ImageServer, path: str, reason: str
) -> None:
    with pytest.raises(ImageUrlError, match=reason) as info:
        await fetch(fetcher(), images.url(path))
    assert "secret" not in str(info.value)


async def test_a_slow_server_times_out(images: ImageServer) -> None:
    with pytest.raises(ImageUrlError, match="took longer than 0.3 s"):
        await fetch(fetcher(image_url_timeout_s=0.3), images.url("/slow.png"))


async def test_an_unknown_name_is_refused() -> None:
    f = ImageFetcher(ServerConfig(), resolver=StubResolver({}))
    with pytest.raises(ImageUrlError, match="could not be resolved"):
        await fetch(f, "http://nowhere.example.com/a.png")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://xn--zz.example.com/a.png", "host name is not valid"),  # not valid IDNA: was a 500
        ("http://[::1/a.png", "could not be fetched"),
        ("http:///a.png", "not an absolute http"),
        ("ftp://cdn.example.com/a.png", "not an absolute http"),
        ("http://cdn.example.com:99999/a.png", "port 99999, outside 1-65535"),  # was a 500
        ("http://cdn.example.com:0/a.png", "port 0, outside"),
    ],
)
async def test_a_malformed_url_is_refused(url: str, reason: str) -> None:
    f = ImageFetcher(ServerConfig(), resolver=StubResolver(PUBLIC_NAMES))
    with pytest.raises(ImageUrlError, match=reason):
        await fetch(f, url)


def _certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``name`` and its key, both PEM."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def test_https_verifies_the_url_host_and_sends_it_as_sni(tmp_path: Any) -> None:
    cert, key = _certificate("cdn.example.com")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, context: names.append(name)
    with _serving(server_tls) as tls_images:
        network = LoopbackNetwork(tls_images.port)
        resolver = StubResolver({"cdn.example.com": "93.184.216.34", "other.example.com": "93.184.216.35"})
        trusting = ssl.create_default_context(cadata=cert.decode())
        f = ImageFetcher(ServerConfig(), resolver=resolver, network=network, ssl_context=trusting)
        assert await fetch(f, f"https://cdn.example.com:{tls_images.port}/sign.png") == PNG
        assert network.connects == ["93.184.216.34"] and names == ["cdn.example.com"]
        assert tls_images.hosts == [f"cdn.example.com:{tls_images.port}"]
        with pytest.raises(ImageUrlError, match="could not be fetched"):  # its certificate names another host
            await fetch(f, f"https://other.example.com:{tls_images.port}/sign.png")
        assert tls_images.hits["/sign.png"] == 1


# --- messages ----------------------------------------------------------------------------------------


def _user(*urls: str) -> UserMessage:
    parts: list[Any] = [TextContent(type="text", text="what is this")]
    parts += [ImageContent.model_validate({"type": "image_url", "image_url": {"url": u}}) for u in urls]
    return UserMessage(role="user", content=parts)


async def test_urls_become_data_uris_each_fetched_once(images: ImageServer) -> None:
    sign, data = images.url("/sign.png"), "data:image/png;base64," + base64.b64encode(PNG).decode()
    messages = await inline_image_urls([_user(sign), _user(data, sign)], fetcher())
    urls = [p.image_url.url for m in messages for p in m.content if isinstance(p, ImageContent)]
    assert urls == [data, data, data]
    assert images.hits["/sign.png"] == 1


async def test_a_bad_url_is_a_400_naming_its_part(images: ImageServer) -> None:
    messages = [_user(images.url("/sign.png")), _user(images.url("/sign.png"), images.url("/page.html"))]
    with pytest.raises(ApiError) as info:
        await inline_image_urls(messages, fetcher())
    err = info.value
    assert (err.status, err.code, err.param) == (400, "invalid_image_url", "messages[1].content[2]")
    assert images.url("/page.html") in err.message and "text/html" in err.message


async def test_more_urls_than_the_cap_are_refused_before_any_fetch(images: ImageServer) -> None:
    urls = [images.url(f"/sign.png?{i}") for i in range(3)]
    with pytest.raises(ApiError) as info:
        await inline_image_urls([_user(*urls)], fetcher(max_image_urls=2))
    assert info.value.code == "too_many_image_urls" and sum(images.hits.values()) == 0


async def test_with_image_urls_off_messages_are_left_for_translation_to_refuse(images: ImageServer) -> None:
    messages = [_user(images.url("/sign.png"))]
    assert await inline_image_urls(messages, fetcher("off")) == messages
    assert sum(images.hits.values()) == 0


# --- the chat route ----------------------------------------------------------------------------------


def _ask(server: LiveServer, url: str, stream: bool = False) -> Any:
    client = openai.OpenAI(base_url=server.base_url, api_key=server.keys["big"], max_retries=0)
    content: Any = [
        {"type": "text", "text": "What does it say?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return client.chat.completions.create(
        model="ponder-instant", messages=[{"role": "user", "content": content}], stream=stream
    )


def test_the_chat_route_fetches_an_image_url_end_to_end(start_server, images: ImageServer) -> None:
    server = start_server(ScriptedModel(["It says HELLO."], vision=True), image_urls="any")
    reply = _ask(server, images.url("/sign.png"))
    assert reply.choices[0].message.content == "It says HELLO."
    (report,) = (reply.usage.model_extra or {})["ponder"]["perception"]
    assert report["path"] == "native" and report["format"] == "PNG"
    part = server.model.calls[0].messages[-1].parts[1]
    assert (part.kind, part.data, part.media_type) == ("image", PNG, "image/png")


@pytest.mark.parametrize("stream", [False, True])
def test_the_chat_route_refuses_a_loopback_url_by_default(
    start_server, images: ImageServer, stream: bool
) -> None:
    server = start_server(ScriptedModel(["unused"], vision=True))
    with pytest.raises(openai.BadRequestError) as info:  # a 400 before any stream starts
        _ask(server, images.url("/sign.png"), stream)
    assert info.value.code == "invalid_image_url" and info.value.param == "messages[0].content[1]"
    assert "not public" in info.value.message
    assert images.hits["/sign.png"] == 0 and server.model.calls == []


def test_a_streamed_turn_answers_about_a_fetched_image(start_server, images: ImageServer) -> None:
    server = start_server(ScriptedModel(["It says HELLO."], vision=True), image_urls="any")
    chunks = list(_ask(server, images.url("/sign.png"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "It says HELLO."
    assert server.model.calls[0].messages[-1].parts[1].data == PNG
