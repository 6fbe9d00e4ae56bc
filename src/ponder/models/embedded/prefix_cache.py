"""Prompt-prefix states on disk: the KV cache of a stable prefix, so a fresh process need not evaluate it.

The system prompt of a store (its policy and tools) is the same for every customer: thousands of tokens
that a fresh process would evaluate again (about 35 s for 3,000 tokens of the 1.5B model on 2 cores).
``PrefixStore`` keeps llama.cpp's state of one sequence (``llama_state_seq_get_data``: the KV cells of the
prefix, no logits) in one file per prefix, and the engine (engine.py) restores it with
``llama_state_seq_set_data`` and evaluates only the rest of the prompt.

A file is named by a hash of the engine's *identity* (the weights' sha256, the llama.cpp version and the
context settings that shape the KV cache: see ``LlamaEngine.identity``) and the prefix's tokens. It holds::

    MAGIC | header length (8 bytes, little endian) | header JSON | state bytes
    header = {"identity": {...}, "tokens": [...], "size": N, "sha256": "..."}   # sha256 of the state bytes

It is used only when the identity and the token list equal the caller's and the bytes hash right; anything
else (a truncated or corrupt file, another format) is removed and counts as a miss, never an error and
never a wrong state. Files are written to a temporary name and renamed into place, so a crash or a second
process never leaves a partial file under a real name. The directory is kept under ``max_bytes``: after a
write, the least recently used files (a hit touches its file's mtime) are removed until it fits.

Writing can run off the engine's thread (``save_later``, a writer thread of its own; ``flush`` waits for
it). Reading is synchronous: the engine needs the state before it can go on.

What it does not do: decide which prefix is stable (the backend does, from the chat template), or touch
a llama.cpp context (the engine does). Settings: ``prefix_cache`` in config.py (on by default, under
DATA_DIR/prefix-cache, 512 MiB, prefixes of 256 tokens or more).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MIN_TOKENS", "Identity", "PrefixStore"]

DEFAULT_MAX_BYTES = 512 << 20
DEFAULT_MIN_TOKENS = 256
MAGIC = b"PONDER-KV\x01\n"
SUFFIX = ".kv"
_MAX_HEADER = 16 << 20  # a header is a token list: far below this unless the file is damaged
_STALE_TEMP_S = 3600.0  # a temporary file older than this was left by a crash

Identity = Mapping[str, str | int]  # what must match for a state to fit an engine
StateBytes = bytes | bytearray | memoryview

log = logging.getLogger(__name__)


class PrefixStore:
    """One directory of prefix states, shared by every engine of the process (and other processes)."""

    def __init__(
        self, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, min_tokens: int = DEFAULT_MIN_TOKENS
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.min_tokens = min_tokens  # shorter prefixes are cheap to evaluate: not worth a file
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[Future[bool]] = []
        self._lock = threading.Lock()

    def path_for(self, identity: Identity, tokens: Sequence[int]) -> Path:
        digest = hashlib.sha256(json.dumps(dict(identity), sort_keys=True).encode())
        digest.update(b"\0" + ",".join(map(str, tokens)).encode())
        return self.directory / f"{digest.hexdigest()[:40]}{SUFFIX}"

    def contains(self, identity: Identity, tokens: Sequence[int]) -> bool:
        return self.path_for(identity, tokens).is_file()

    # --- reading ----------------------------------------------------------------------------------------

    def load(self, identity: Identity, tokens: Sequence[int]) -> bytearray | None:
        """The state stored for exactly ``tokens`` under ``identity``, or None (a damaged file is removed)."""
        path = self.path_for(identity, tokens)
        try:
            with path.open("rb") as file:
                data = _read(file, identity, tokens)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:  # json, unicode and our own checks raise ValueError
            log.warning("prefix state %s is unusable (%s): removed", path.name, err)
            self.discard(path)
            return None
        _touch(path)
        return data

    def discard(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            log.warning("could not remove prefix state %s: %s", path, err)

    # --- writing ----------------------------------------------------------------------------------------

    def save(self, identity: Identity, tokens: Sequence[int], state: StateBytes) -> bool:
        """Write the state of ``tokens`` (atomically), then evict down to the cap. False if not written."""
        view = memoryview(state).cast("B")
        header = json.dumps(
            {
                "identity": dict(identity),
                "tokens": list(tokens),
                "size": view.nbytes,
                "sha256": hashlib.sha256(view).hexdigest(),
            }
        ).encode()
        total = len(MAGIC) + 8 + len(header) + view.nbytes
        if total > self.max_bytes:
            log.info("a prefix state of %d bytes exceeds the cache's cap: not kept", total)
            return False
        path = self.path_for(identity, tokens)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with temp.open("wb") as file:
                file.write(MAGIC + len(header).to_bytes(8, "little") + header)
                file.write(view)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except OSError as err:
            log.warning("could not write prefix state %s: %s", path, err)
            self.discard(temp)
            return False
        self.evict(keep=path)
        return True

    def save_later(self, identity: Identity, tokens: Sequence[int], state: StateBytes) -> Future[bool]:
        """``save`` on the store's writer thread; ``state`` must not change until it is done."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ponder-prefix-writer")
            future = self._writer.submit(self.save, identity, tuple(tokens), state)
            self._pending = [f for f in self._pending if not f.done()] + [future]
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every ``save_later`` so far is written (or has failed)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception(timeout=timeout)

    def close(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def evict(self, *, keep: Path | None = None) -> None:
        """Remove the least recently used states until the directory holds at most ``max_bytes``."""
        now = time.time()
        files: list[tuple[float, int, Path]] = []  # (mtime, size, path)
        try:
            entries = list(self.directory.iterdir())
        except OSError:
            return
        for entry in entries:
            try:
                stat = entry.stat()
            except OSError:
                continue
            if entry.name.endswith(".tmp") and now - stat.st_mtime > _STALE_TEMP_S:
                self.discard(entry)
            elif entry.suffix == SUFFIX:
                files.append((stat.st_mtime, stat.st_size, entry))
        used = sum(size for _, size, _ in files)
        for _, size, entry in sorted(files):
            if used <= self.max_bytes:
                break
            if entry != keep:
                self.discard(entry)
                used -= size


def _read(file: io.BufferedReader, identity: Identity, tokens: Sequence[int]) -> bytearray:
    """The state bytes of an open file, after checking everything the header promises."""
    if file.read(len(MAGIC)) != MAGIC:
        raise ValueError("not a prefix state file of this format")
    length = int.from_bytes(file.read(8), "little")
    if not 0 < length <= _MAX_HEADER:
        raise ValueError("bad header length")
    header = json.loads(file.read(length))
    if not isinstance(header, dict):
        raise ValueError("bad header")
    if header.get("identity") != dict(identity):
        raise ValueError("saved by another model or engine setting")
    if header.get("tokens") != list(tokens):
        raise ValueError("its tokens differ from the prompt's prefix")
    size = header.get("size")
    if not isinstance(size, int) or size != os.fstat(file.fileno()).st_size - file.tell() or size <= 0:
        raise ValueError("the state's size is not what the header says")  # checked before allocating it
    data = bytearray(size)
    if file.readinto(data) != size or file.read(1):
        raise ValueError("truncated or overlong")
    if hashlib.sha256(data).hexdigest() != header.get("sha256"):
        raise ValueError("checksum mismatch")
    return data


def _touch(path: Path) -> None:
    """Mark a state as just used, for least-recently-used eviction."""
    with contextlib.suppress(OSError):
        os.utime(path)
