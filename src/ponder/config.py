"""Settings in one place: defaults < config file < environment (PONDER_*) < command-line flags.

The config file is TOML, at ``$PONDER_CONFIG`` or ``$XDG_CONFIG_HOME/ponder/config.toml``
(``~/.config/ponder/config.toml``). Nothing is read at import time: call ``load_settings()`` once and
pass the result down.

Example config file::

    model = "embedded:qwen2.5-coder-1.5b"
    max_tokens = 512

    [models.vllm]                         # usable as --model vllm
    spec = "openai:http://gpu-box:8000/v1#Qwen/Qwen2.5-7B-Instruct"
    api_key_env = "VLLM_KEY"              # the key is read from this variable, never stored here
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ponder.errors import ConfigError
from ponder.modes.registry import ModeChoice, ModeName, PresetName

__all__ = [
    "ChannelConfig",
    "CommerceConfig",
    "ConfiguredModel",
    "McpServerConfig",
    "PerceptionConfig",
    "PrefixCacheConfig",
    "SandboxConfig",
    "ServerConfig",
    "Settings",
    "TierConfig",
    "default_config_path",
    "default_data_dir",
    "load_settings",
]

DEFAULT_MODEL = "embedded:qwen2.5-coder-1.5b"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ponder"


def default_config_path() -> Path:
    explicit = os.environ.get("PONDER_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ponder" / "config.toml"


class ConfiguredModel(BaseModel):
    """A named model in the config file: a backend spec plus where its API key comes from."""

    spec: str
    api_key_env: str | None = None  # name of an environment variable holding the key
    description: str = ""
    # The model reads images itself (an OpenAI-compatible server running a vision model): image parts go
    # to it as they are. Otherwise perception turns them into text (OCR and image analysis) first.
    vision: bool = False
    # The header that carries each conversation's stable routing key to the engine (a hash of its owner and
    # session), for a session-aware router in front of several engines; "" sends none.
    routing_header: str = "X-Session-Id"

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class McpServerConfig(BaseModel):
    """An MCP server whose tools Ponder offers as ``NAME.tool``: a command it starts (stdio) or a URL
    (streamable HTTP). See ponder.tools.mcp."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = None  # stdio: the program to start, found on PATH
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)  # added to a minimal inherited env (PATH, HOME, ...)
    url: str | None = None  # streamable HTTP endpoint, e.g. "http://127.0.0.1:8000/mcp"
    headers: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict)  # header name -> variable holding its value
    timeout_s: float = Field(default=30.0, gt=0)  # for each request (a tool call, the tool list)
    start_timeout_s: float = Field(default=60.0, gt=0)  # to start (or reach) it and finish the handshake

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (stdio) or url (streamable HTTP)")
        return self


class TierConfig(BaseModel):
    """Limits of the API keys of one tier. A request costs its mode's price in requests, and its tokens
    (prompt and completion) times that price count toward the daily tokens: Contemplating costs more."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1)  # None: no limit
    tokens_per_day: int | None = Field(default=None, ge=1)  # None: no limit
    prices: dict[str, float] = Field(
        default_factory=lambda: {"instant": 1.0, "thinking": 2.0, "contemplating": 4.0}
    )
    # Contemplating's price is for this many sub-agents; a request for more costs more in proportion (16
    # agents: 4x). Its tokens already count every agent's, so the token multiplier stays the mode's price.
    agents_included: int = Field(default=4, ge=1)
    # Perception is priced in tokens of the day, for the work it does whatever the image holds: OCR and image
    # analysis per megapixel of the image (a 49-megapixel photo took 14 s of OCR on 2 cores), speech
    # recognition per second of audio. The text they produce is counted again as prompt tokens. Images that
    # went to a vision model as they are, and parts read from the cache, cost nothing here.
    tokens_per_megapixel: float = Field(default=20.0, ge=0)
    tokens_per_audio_second: float = Field(default=2.0, ge=0)

    def price(self, mode: str, agents: int | None = None) -> float:
        """Requests a turn in ``mode`` costs (with ``agents`` sub-agents, for Contemplating)."""
        base = self.prices.get(mode, 1.0)
        if mode == "contemplating" and agents is not None and agents > self.agents_included:
            return base * agents / self.agents_included
        return base

    def token_price(self, mode: str) -> float:
        """What each token of a turn in ``mode`` counts toward the day."""
        return self.prices.get(mode, 1.0)


def _default_tiers() -> dict[str, TierConfig]:
    return {
        "free": TierConfig(requests_per_minute=20, tokens_per_day=100_000),
        "standard": TierConfig(requests_per_minute=300, tokens_per_day=5_000_000),
        "unlimited": TierConfig(),
    }


class ServerConfig(BaseModel):
    """``ponder serve``: where it listens, who may use it, and how much it takes on at once."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Requests without a key are served as account "local" (tier local_tier), only on a loopback address.
    allow_local_without_key: bool = False
    local_tier: str = "unlimited"
    tiers: dict[str, TierConfig] = Field(default_factory=_default_tiers)
    max_concurrent_turns: int = Field(default=8, ge=1)  # more at once get 503
    # Load the default model before reporting ready, with the shopping planner's fixed prompt evaluated
    # (or restored from the prefix cache): the first request of a fresh server does not pay for either.
    warm: bool = True
    # Turns one key may run at once, so that one key cannot take every slot (more get 429); None: half of
    # max_concurrent_turns, rounded up.
    max_turns_per_key: int | None = Field(default=None, ge=1)
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)  # images and audio come inline
    # The other routes' JSON (memories, actions, orders, UCP) is small, and parsed before the handler runs.
    max_small_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # The shape of one chat request (beyond: 413, before the body is parsed where the raw JSON tells). Sized
    # to admit a long conversation in the model's whole context with a full toolbox; raise them for more.
    max_messages: int = Field(default=4096, ge=1)
    max_tools: int = Field(default=256, ge=1)
    max_parts: int = Field(default=64, ge=1)  # content parts and tool calls of one message
    # Text of the messages and tool definitions, in characters: about 256k tokens of English (4 a token),
    # twice a 128k-token context. The media of image and audio parts is not text: max_body_bytes bounds it.
    max_request_chars: int = Field(default=1024 * 1024, ge=1024)
    # JSON strings, containers and commas in one body: what bounds the cost of parsing it.
    max_json_values: int = Field(default=256 * 1024, ge=1024)
    # http(s) image URLs in chat messages (ponder.server.image_fetch): "public" fetches them from public
    # addresses only (never loopback, private, link-local, multicast or reserved ones, checked on the address
    # connected to), "any" from any address (a server on a trusted network), "off" refuses them (data URIs
    # only). A fetch takes at most image_url_timeout_s, redirects included, and 10 MiB.
    image_urls: Literal["off", "public", "any"] = "public"
    image_url_timeout_s: float = Field(default=10.0, gt=0)
    max_image_urls: int = Field(default=8, ge=1)  # distinct URLs in one request (beyond: 400)
    turn_timeout_s: float = Field(default=600.0, gt=0)  # a turn that runs longer gets 504
    graceful_shutdown_s: float = Field(default=60.0, gt=0)  # SIGTERM: how long in-flight requests get
    # The tools of the ``tools`` setting are listed at start and again before a turn once this many seconds
    # old (0: before every turn), so an MCP tool approved since (on any replica, or with ``ponder mcp
    # approve``) is offered, and one whose definition changed on its server is withheld, without a restart.
    tools_refresh_s: float = Field(default=5.0, ge=0)
    # Messaging channels ([[channels]]): how many of their jobs (a message's turn, a send) run at once, and
    # how long a job stays its worker's unless renewed (a worker renews it while it runs; one that died
    # loses it to another server, or to this one restarted, after this long).
    channel_workers: int = Field(default=4, ge=1)
    channel_lease_s: float = Field(default=30.0, ge=1.0)
    # The same for the jobs left after a turn (learning what it taught), which every server drains.
    job_lease_s: float = Field(default=60.0, ge=1.0)
    # /v1/realtime: a live session that sends no event for this long is closed.
    realtime_idle_s: float = Field(default=300.0, gt=0)
    # Rate limits in Redis (redis://host:6379/0), shared by several servers; unset: in the database.
    redis_url: str | None = None
    # Where agents and people reach this server (https://shop.example.com), for the URLs it hands out (the
    # UCP profile's endpoint, continue_url, order links): never taken from a request's Host header. Unset:
    # http://HOST:PORT of the bind address (127.0.0.1 for a wildcard bind), right on loopback only.
    public_base_url: str | None = None

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("public_base_url must be an absolute http(s) URL without query or fragment")
        return url.rstrip("/")

    @property
    def base_url(self) -> str:
        """This server's public base URL, without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


class MemoryConfig(BaseModel):
    """Sessions, what Ponder remembers about a person, and interest signals. See ponder.memory."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True  # recall before a turn, extraction after it (sessions are kept either way)
    extract: bool = True  # after a turn, the model lists durable facts the user stated (costs one call)
    recall_k: int = Field(default=3, ge=0, le=50)  # memories given to the model per turn, at most
    # Cosine below which a memory is not recalled. Off by default: the shipped E5 model's scores are
    # compressed (unrelated pairs 0.70-0.78, related ones 0.76-0.83), so no threshold separates them; the top
    # recall_k are given, labelled as notes to use only when relevant. Set it for a sharper embedding model.
    recall_min_score: float = Field(default=0.0, ge=-1.0, le=1.0)
    # Of the model's context, the share a resumed session's history may take; older turns are dropped whole
    # and named in a note (never cut mid-message).
    history_share: float = Field(default=0.6, gt=0.0, le=0.9)
    max_import_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)  # one JSONL import of interest events


class SandboxConfig(BaseModel):
    """The jail pool for model-written programs (the python tool). See ponder.sandbox."""

    model_config = ConfigDict(extra="forbid")

    # Jails alive at once per process, so also programs running at once: the rest wait their turn.
    pool_size: int = Field(default=2, ge=1, le=64)
    wait_s: float = Field(default=30.0, ge=0)  # how long a program waits for a free jail before it is refused
    python_calls_per_turn: int = Field(default=8, ge=1)  # calls past this get an error result, not a run


Assistant = Literal["planned", "tools"]  # how a shopping turn works: see CommerceConfig.assistant
_PROVIDER_NAME = r"^[a-z][a-z0-9_]{0,31}$"


class PaymentHandlerConfig(BaseModel):
    """One more way to pay (a UCP payment handler: a wallet, a provider's tokenizer), published as its owner
    defines it, its tokens charged through ``provider``. See ponder.commerce.payment_handlers."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # what a payment instrument names as handler_id
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")  # reverse-DNS: com.google.pay
    # "default": [commerce] payment_provider; or a name of [commerce.payment_providers].
    provider: str = Field(default="default", pattern=_PROVIDER_NAME)
    version: str = Field(default="2026-01-11", pattern=r"^\d{4}-\d{2}-\d{2}$")
    spec: str = Field(pattern=r"^https?://")  # the handler's specification
    config_schema: str = Field(pattern=r"^https?://")  # the JSON schema of ``config``
    instrument_schemas: list[str] = Field(default_factory=list)
    instruments: list[str] = Field(default_factory=lambda: ["card"], min_length=1)  # instrument types taken
    config: dict[str, Any] = Field(default_factory=dict)  # published as is


class CommerceConfig(BaseModel):
    """The shopping mode's store and payments. See ponder.commerce."""

    model_config = ConfigDict(extra="forbid")

    # The account whose store the CLI uses (ponder shop, ponder ask --mode shopping); the server uses the
    # API key's account.
    account: str = "local"
    # "test": the bundled TestPaymentProvider (its ledger at DATA_DIR/test-payments.db; "test:PATH": at PATH,
    # one ledger for the servers of one machine, as an outside provider keeps one); or MODULE:NAME, a
    # callable taking the settings and returning a PaymentProvider (a real provider's adapter).
    payment_provider: str = "test"
    # More payment providers, by name (the same forms), for payment_handlers to charge through.
    payment_providers: dict[str, str] = Field(default_factory=dict)
    # Ways to pay besides the store's own (its saved methods and its provider's tokens), each charged
    # through a provider: [[commerce.payment_handlers]] id, name, provider, spec, config_schema, config...
    payment_handlers: list[PaymentHandlerConfig] = Field(default_factory=list)
    action_ttl_s: float = Field(default=900.0, gt=0)  # how long a proposed action waits for the person
    # How long a checkout in flight holds its idempotency key: a request that died holding it is taken over
    # (by a retry, or the sweeper) only after this.
    checkout_lease_s: float = Field(default=30.0, gt=0)
    # How long a retry waits for that request to finish before it is answered 409 with Retry-After.
    checkout_wait_s: float = Field(default=10.0, ge=0)
    # How a shopping turn works. "planned": the model writes a small plan (intent and slots) under a
    # grammar, the runtime carries it out and writes the reply from the store's results (fast on small
    # models, and the reply names only what the store holds). "tools": the model calls the store's tools
    # itself in the mode's tool loop and writes the reply (every tool schema in every prompt).
    assistant: Assistant = "planned"
    # How a person writing in is identified as one of the store's customers in a conversation (support
    # surfaces: a visitor of the store's site, a messaging thread): "email", "name_zip" (first and last name
    # with a zip code), both, or none (the default: the turn's user is the customer, as the API's `user`
    # field says). A store's own rules (its file's "rules": identify_by) take precedence. An identified
    # conversation reads that customer's orders; what it proposes is held for the customer's own
    # confirmation. See ponder.commerce.identification.
    identify_by: list[Literal["email", "name_zip"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _handlers_have_providers(self) -> CommerceConfig:
        for name in self.payment_providers:
            if name == "default" or not re.match(_PROVIDER_NAME, name):
                raise ValueError(f"payment_providers: '{name}' is not a provider name (a-z, 0-9, _)")
        ids = [h.id for h in self.payment_handlers]
        for handler in self.payment_handlers:
            if handler.provider != "default" and handler.provider not in self.payment_providers:
                raise ValueError(
                    f"payment_handlers '{handler.id}': no provider '{handler.provider}' in payment_providers"
                )
            if ids.count(handler.id) > 1 or handler.id.startswith("ponder_"):
                raise ValueError(
                    f"payment_handlers '{handler.id}': ids are unique, and ponder_* is the store's"
                )
        return self


class ChannelConfig(BaseModel):
    """A messaging channel: a WhatsApp business number, a Messenger page or a Telegram bot, whose webhook
    ``ponder serve`` mounts at /channels/NAME/webhook. Secrets are named by environment variable, never
    written here. See ponder.channels.

        [[channels]]
        name = "shop-wa"
        platform = "whatsapp"
        account = "local"                    # the store it sells for
        phone_number_id = "106540352242922"
        token_env = "WA_ACCESS_TOKEN"        # the Graph API access token
        app_secret_env = "WA_APP_SECRET"     # signs each POST (X-Hub-Signature-256)
        verify_token_env = "WA_VERIFY_TOKEN" # the GET handshake's hub.verify_token
        template = "back_in_touch"           # sent when the 24-hour window has closed
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    platform: Literal["whatsapp", "messenger", "telegram"]
    account: str = "local"
    # The platform's API; unset: https://graph.facebook.com/v21.0 or https://api.telegram.org (a test's
    # loopback fake, a proxy).
    base_url: str | None = None
    token_env: str  # WhatsApp, Messenger: the access token; Telegram: the bot token
    app_secret_env: str | None = None  # WhatsApp, Messenger
    verify_token_env: str | None = None  # WhatsApp, Messenger
    secret_token_env: str | None = None  # Telegram: setWebhook's secret_token, in every update's header
    phone_number_id: str = ""  # WhatsApp: the number that sends
    template: str = ""  # WhatsApp: an approved template to send outside the 24-hour window
    template_language: str = "en_US"
    mode: ModeName = "instant"  # how the assistant answers in the thread, under the shopping preset

    @model_validator(mode="after")
    def _platform_fields(self) -> ChannelConfig:
        meta = self.platform in ("whatsapp", "messenger")
        if meta and not (self.app_secret_env and self.verify_token_env):
            raise ValueError(
                f"channel '{self.name}': {self.platform} needs app_secret_env and verify_token_env"
            )
        if self.platform == "whatsapp" and not self.phone_number_id:
            raise ValueError(f"channel '{self.name}': whatsapp needs phone_number_id")
        if self.platform == "telegram" and not self.secret_token_env:
            raise ValueError(f"channel '{self.name}': telegram needs secret_token_env")
        return self


class UcpConfig(BaseModel):
    """The Universal Commerce Protocol API that outside shopping agents use (ponder.server.ucp)."""

    model_config = ConfigDict(extra="forbid")

    # The UCP version a platform that declares none is answered in (UCP-Agent: ..., version="YYYY-MM-DD"
    # declares one), and the shape of /.well-known/ucp for such a platform: "2026-01-11", the released
    # protocol, or "2026-08-25", the later draft. Both are spoken either way (ponder.commerce.ucp.versions).
    default_version: Literal["2026-01-11", "2026-08-25"] = "2026-01-11"
    # A store open to any shopping agent: UCP calls without a key or agent credential shop in this account's
    # store, each agent identified by the profile its UCP-Agent header names (its checkouts are its own; the
    # profile is not a secret, so a checkout is then guarded by its unguessable id). Completing still never
    # buys without the person. Unset: every UCP call needs a key (`ponder keys create [--ucp-agent URL]`).
    open_account: str | None = None
    # The limits of those calls (a tier of [server.tiers]), counted per client address, not per profile (a
    # profile URL costs nothing to change).
    open_tier: str = "free"
    # AP2 checkout mandates (2026-01-11's ap2_mandate extension): for each platform profile an agent may
    # name in UCP-Agent, a JWKS file of the keys the store trusts to sign its users' mandates. A verified
    # mandate is the person's confirmation of exactly the checkout it signs (commerce/ucp/mandates.py); an
    # agent of a platform not listed buys only with the person confirming in the store's own app.
    mandate_issuers: dict[str, Path] = Field(default_factory=dict)
    # Where the store may reach an agent's platform (its profile, its order webhook): "public" addresses
    # only, or "any" (agents on the store's own network, as in a test bed). See server/ucp/webhooks.py.
    agent_urls: Literal["public", "any"] = "public"


class PerceptionConfig(BaseModel):
    """Images and audio in: what is accepted, and how large. See ponder.perception."""

    model_config = ConfigDict(extra="forbid")

    max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)  # one image file, encoded
    max_image_pixels: int = Field(default=50_000_000, ge=10_000)  # width x height; larger images are refused
    max_image_side: int = Field(default=2048, ge=256)  # larger images are downscaled before OCR
    max_audio_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)  # one audio file, encoded
    max_audio_s: float = Field(default=900.0, gt=0)  # 15 minutes; longer audio is refused
    # Speech recognition: moonshine-tiny (fast: RTF ~0.07 on 2 cores; English only), whisper-base (fewer
    # errors, 99 languages, but its fixed 30-second window makes short clips slow: RTF ~0.6 on 3-second
    # clips, ~0.2 on 30-second ones), or auto: Moonshine for English clips shorter than asr_whisper_from_s,
    # Whisper for longer audio and other languages. bench/asr.py measures both.
    asr_model: Literal["auto", "moonshine-tiny", "whisper-base"] = "auto"
    asr_whisper_from_s: float = Field(default=20.0, ge=0)
    language: str | None = None  # spoken language (ISO 639-1), or None (auto: English; whisper: detect)


class PrefixCacheConfig(BaseModel):
    """The embedded engine's prompt-prefix states on disk: the KV of a system turn (a store's policy and
    tools), so the first request of a fresh process does not evaluate it again. See
    ponder.models.embedded.prefix_cache."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    directory: Path | None = None  # None: DATA_DIR/prefix-cache
    # Least recently used states are removed past this. One state is about 28 KB a token on the 1.5B model
    # (85 MB for a 3,000-token system turn), 12 KB on the 0.5B.
    max_mb: int = Field(default=512, ge=1)
    min_tokens: int = Field(default=256, ge=1)  # shorter system turns are evaluated each time instead
    # Conversations' KV states kept in memory when another prompt pushes them out of the context (post-turn
    # learning, another customer's turn), so their next turn does not evaluate its prompt again; 0: none.
    # See ponder.models.embedded.kv_states.
    memory_mb: int = Field(default=256, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PONDER_", extra="forbid", env_nested_delimiter="__")

    data_dir: Path = Field(default_factory=default_data_dir)
    # Where sessions, memories, signals, keys and limits live: unset, SQLite at DATA_DIR/ponder.db;
    # postgresql://user:password@host:5432/db for several servers; sqlite:///PATH for another file.
    database_url: str | None = None
    model: str = DEFAULT_MODEL
    # auto: the router picks per turn; shopping: auto under the shopping preset (ponder.modes.registry)
    mode: ModeChoice = "auto"
    # shopping: the store's tools and policy, under the mode (ponder.commerce.mode)
    preset: PresetName | None = None
    budget: int | None = Field(default=None, ge=1)  # reasoning tokens; per sub-agent in contemplating
    reasoning_effort: Literal["low", "medium", "high"] | None = None  # used when no budget is set
    agents: int = Field(default=4, ge=1, le=16)  # contemplating sub-agents
    adaptive: bool = True  # contemplating: a first pair, the other agents only if the pair disagrees
    programs: bool = True  # contemplating: some sub-agents write programs that run in the sandbox
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    seed: int | None = None
    context_length: int = Field(default=4096, ge=256)
    threads: int | None = Field(default=None, ge=1)  # None: adapt to idle cores at each request
    prefix_cache: PrefixCacheConfig = Field(default_factory=PrefixCacheConfig)
    system_prompt: str | None = None
    request_timeout_s: float = Field(default=600.0, gt=0)
    models: dict[str, ConfiguredModel] = Field(default_factory=dict)
    # MCP servers, one table each; their tools are offered as NAME.tool once approved (ponder mcp tools):
    #   [mcp_servers.files]                 stdio: Ponder starts the command
    #   command = "npx"
    #   args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"]
    #   [mcp_servers.search]                streamable HTTP
    #   url = "http://127.0.0.1:8000/mcp"
    #   headers_env = { Authorization = "SEARCH_MCP_AUTH" }
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    # Tools offered in every turn unless --tools says otherwise: "python" (the sandbox), an MCP server's
    # name, MODULE:NAME or MODULE (your @tool functions and toolsets). See ponder.tools.loading.
    tools: list[str] = Field(default_factory=list)
    server: ServerConfig = Field(default_factory=ServerConfig)
    perception: PerceptionConfig = Field(default_factory=PerceptionConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    commerce: CommerceConfig = Field(default_factory=CommerceConfig)
    ucp: UcpConfig = Field(default_factory=UcpConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    channels: list[ChannelConfig] = Field(default_factory=list)  # [[channels]]: messaging (ponder.channels)

    @model_validator(mode="after")
    def _channel_names_unique(self) -> Settings:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError("channels: each needs its own name")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = default_config_path()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def prefix_cache_dir(self) -> Path:
        return self.prefix_cache.directory or self.data_dir / "prefix-cache"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "ponder.db"

    @property
    def database(self) -> str:
        """What open_database opens: the URL if one is set, else the SQLite file in the data directory."""
        return self.database_url or str(self.database_path)


def load_settings(**overrides: Any) -> Settings:
    """Load settings; ``overrides`` are command-line flags (``None`` values are ignored)."""
    flags = {key: value for key, value in overrides.items() if value is not None}
    path = default_config_path()
    try:
        return Settings(**flags)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Config file {path} is not valid TOML: {err}") from None
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(
            f"Invalid settings ({problems}). Check the flags, PONDER_* environment variables and {path}."
        ) from None
