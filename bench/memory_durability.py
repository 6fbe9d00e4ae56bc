"""Durability of the memory stores: SIGKILL a writer at random points and check what survived.

    python bench/memory_durability.py                          # SQLite, 60 kills, 10,000 writes
    python bench/memory_durability.py --backend postgresql     # URL from POSTGRES_TEST_URL, or --url
    python bench/memory_durability.py --kills 50 --writes 10000 --seed 1

The issue's figure: kill -9 of a writer at at least 50 points during at least 10,000 writes, with 0
acknowledged writes lost, 0 partial rows, and an integrity check that passes after each crash.

Method. A writer, a separate process, opens the database and writes in a loop, alternating two kinds of
write, each through the store's public call:

- even sequence numbers: ``SessionStore.record`` of one turn, a user and an assistant message;
- odd sequence numbers: ``MemoryStore.remember`` of one fact (``HashingEmbedder``, not E5).

Every text carries the writer's run id, the sequence number, a random payload (8 to 1,500 bytes for
messages, so rows span overflow pages) and a checksum of all of that. Each run writes as its own user
(``w<run>``) in its own session, so a write that committed but was never acknowledged cannot collide with
the next run's writes, which continue the sequence from the last acknowledged number + 1. Writers are
forked from one helper process (this script with ``--writer``, started with ``sys.executable``) that has
imported Ponder once: a restart costs a fork and ``open_database``, not a 1.5 s Python start-up, which
matters when 10,000 writes at 5-300 ms per run take a few hundred restarts on PostgreSQL.

*Acknowledged* means the store call returned, so its transaction committed, and the writer then wrote
``ack <seq>`` to its stdout pipe (one ``write``, atomic on a pipe). The parent reads the pipe, so it knows
exactly which writes were acknowledged before the kill. It waits for the writer's ``ready`` line, sleeps a
random 5-300 ms (seeded), sends SIGKILL (the kill lands anywhere: inside a transaction, in a commit, between
writes), reads the acks left in the pipe (up to the helper's ``exit`` line for that writer, written once
it has reaped it, so after its last ack), and then opens the database itself and checks:

- **lost**: every acknowledged write is there: both messages of each acknowledged turn, each fact;
- **partial rows**: no turn with one of its two messages, no row whose text fails its checksum or whose
  stored parts, keys or vector disagree with it (every row is found by its keys after each crash; the
  contents are verified for the killed run's rows, and for every row each 10th crash and after the last);
- **integrity**: SQLite ``PRAGMA integrity_check`` and ``PRAGMA quick_check`` say ``ok``; on both
  backends, no message without its session, no session or memory without its user, the same row counts
  read through the indexes and without them, and the store's own reads (``history``, ``list_memories``) of
  the killed run agree with the rows.

A write that was in flight when the writer died may or may not have landed; the count that landed is
reported. Anything beyond that one write per run is an integrity failure. Writes/s is acknowledged writes
over the time writers ran (from ``ready`` to the kill), so it excludes process start-up.

Prints a table and saves bench/results/memory-durability-<backend>.json; exits 1 if lost, partial rows or
integrity failures is not 0. It does not simulate a power cut: SQLite's ``synchronous=NORMAL`` promises
nothing about the newest commits then (see ponder/store/database.py), and this measures process death.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from _common import scratch_database
from ponder.memory.memories import Candidate, MemoryStore
from ponder.memory.owner import Owner
from ponder.memory.sessions import SessionStore
from ponder.messages import Message
from ponder.store.database import Database, open_database, sql
from ponder.testing.embedder import HashingEmbedder

RESULTS = Path(__file__).parent / "results"
ACCOUNT = "durability"
TARGET_KILLS, TARGET_WRITES = 50, 10_000  # the figure
DELAY_S = (0.005, 0.300)  # how long a writer runs after `ready` before the kill
READY_TIMEOUT_S = 60.0
FULL_CHECK_EVERY = 10  # crashes; the contents of every row are verified then and after the last one
GONE_TIMEOUT_S = 10.0  # PostgreSQL: how long the killed writer's server session may take to end
_TEXT = re.compile(
    r"^durability run=(\d+) seq=(\d+) part=(user|assistant|fact) payload=([0-9a-f]*) sum=([0-9a-f]{16})$"
)


# --- what is written --------------------------------------------------------------------------------------


def _checksum(run: int, seq: int, part: str, payload: str) -> str:
    return hashlib.blake2b(f"{run}|{seq}|{part}|{payload}".encode(), digest_size=8).hexdigest()


def encode(run: int, seq: int, part: str, payload: str) -> str:
    checksum = _checksum(run, seq, part, payload)
    return f"durability run={run} seq={seq} part={part} payload={payload} sum={checksum}"


def decode(text: str) -> tuple[int, int, str] | None:
    """(run, seq, part) of a text whose checksum holds; None for anything else."""
    match = _TEXT.match(text)
    if match is None:
        return None
    run, seq, part, payload, checksum = match.groups()
    if _checksum(int(run), int(seq), part, payload) != checksum:
        return None
    return int(run), int(seq), part


def owner_of(run: int) -> Owner:
    return Owner(ACCOUNT, f"w{run}")


def session_of(run: int) -> str:
    return f"run-{run}"


def is_turn(seq: int) -> bool:
    """Even sequence numbers are turns (two messages), odd ones facts (one memory)."""
    return seq % 2 == 0


# --- the writers -------------------------------------------------------------------------------------------


def write(target: str, run: int, first: int, seed: int) -> None:
    """Write until killed, acknowledging each write on stdout once its store call has returned."""
    db = open_database(target)
    sessions, memories = SessionStore(db), MemoryStore(db, HashingEmbedder())
    owner, session = owner_of(run), session_of(run)
    sessions.open(owner, session)
    rng = random.Random(seed)
    _say(f"ready {run}")
    seq = first
    while True:
        if is_turn(seq):
            question = encode(run, seq, "user", rng.randbytes(rng.randint(8, 1500)).hex())
            answer = encode(run, seq, "assistant", rng.randbytes(rng.randint(8, 1500)).hex())
            sessions.record(owner, session, [Message.user(question), Message.assistant(answer)])
        else:
            fact = encode(run, seq, "fact", rng.randbytes(rng.randint(8, 150)).hex())
            memories.remember(owner, [Candidate(fact, "other", f"fact {seq}")], "conversation")
        _say(f"ack {run} {seq}")
        seq += 1


def _say(line: str) -> None:
    os.write(1, line.encode() + b"\n")  # one write(2) of a few bytes: whole or not at all on a pipe


def fork_writers(target: str) -> None:
    """The writer side (``--writer``): for each ``<run> <first> <seed>`` line on stdin, fork a writer.

    Ponder is imported once, here; a writer is a fork that opens the database itself, so a restart costs
    milliseconds, not a Python start-up. Lines out, on the stdout the writers share, each one write(2):
    ``pid <run> <pid>`` from here, ``ready <run>`` and ``ack <run> <seq>`` from the writer, then
    ``exit <run> signal <n>|code <n>`` from here once the writer is reaped, so its acks come before it.
    """
    if "://" in target:  # import the driver here, once, not in every writer (no connection is made)
        sa.create_engine(target.replace("postgresql://", "postgresql+psycopg://", 1)).dispose()
    for line in sys.stdin:
        run, first, seed = (int(word) for word in line.split())
        pid = os.fork()
        if pid == 0:
            try:
                write(writer_target(target, run), run, first, seed)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(1)
        _say(f"pid {run} {pid}")
        _, status = os.waitpid(pid, 0)
        ended = (
            f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"code {os.WEXITSTATUS(status)}"
        )
        _say(f"exit {run} {ended}")


@dataclass
class _Writer:
    """One writer as the parent sees it, filled in by ``Writers``' reading thread."""

    pid: int = 0
    acks: list[int] = field(default_factory=list)
    ended: str = ""  # "signal 9", "code 1", or "" while it runs
    started: threading.Event = field(default_factory=threading.Event)  # its pid and `ready` both came
    gone: threading.Event = field(default_factory=threading.Event)
    _ready: bool = False

    def _update(self) -> None:
        if (self.pid and self._ready) or self.gone.is_set():
            self.started.set()


class Writers:
    """The parent's side of ``fork_writers``: start a writer, and read its lines in a thread."""

    def __init__(self, target: str) -> None:
        command = [sys.executable, __file__, "--writer", "--target", target]
        env = os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # no pools to fork
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.junk: list[bytes] = []  # lines that are none of the above
        self._writers: dict[int, _Writer] = {}  # run -> writer
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def start(self, run: int, first: int, seed: int) -> _Writer:
        assert self.process.stdin is not None
        writer = self._writers[run] = _Writer()
        self.process.stdin.write(f"{run} {first} {seed}\n".encode())
        self.process.stdin.flush()
        return writer

    def close(self) -> None:
        """Kill a writer still running (the parent was interrupted), then let the helper end."""
        assert self.process.stdin is not None
        for writer in self._writers.values():
            if writer.pid and not writer.gone.is_set():
                os.kill(writer.pid, signal.SIGKILL)
        self.process.stdin.close()
        self.process.wait(READY_TIMEOUT_S)
        self._thread.join(READY_TIMEOUT_S)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            words = line.split()
            writer = self._writers.get(int(words[1])) if len(words) >= 2 and words[1].isdigit() else None
            if writer is None or not line.endswith(b"\n"):
                self.junk.append(line)
            elif words[0] == b"ack" and len(words) == 3:
                writer.acks.append(int(words[2]))
            elif words[0] == b"ready":
                writer._ready = True
            elif words[0] == b"pid":
                writer.pid = int(words[2])
            elif words[0] == b"exit":
                writer.ended = b" ".join(words[2:]).decode()
                writer.gone.set()
            else:
                self.junk.append(line)
            if writer is not None:
                writer._update()
        for writer in self._writers.values():  # the fork server died: nobody is waiting any more
            writer.gone.set()
            writer._update()


@dataclass
class Crash:
    run: int
    first: int  # the sequence number the writer started at
    delay_ms: float  # from `ready` to SIGKILL
    acked: list[int] = field(default_factory=list)  # sequence numbers acknowledged, in order
    landed: int = 0  # writes present but not acknowledged (in flight at the kill)
    problems: list[str] = field(default_factory=list)  # what the checks after this crash found


def crash_writer(writers: Writers, run: int, first: int, seed: int, delay_s: float) -> tuple[Crash, float]:
    """Start a writer, SIGKILL it ``delay_s`` after it is ready; the crash and how long it wrote (s)."""
    writer = writers.start(run, first, seed)
    crash = Crash(run, first, round(delay_s * 1000, 1))
    if not writer.started.wait(READY_TIMEOUT_S) or writer.gone.is_set():
        crash.problems.append(f"writer {run} did not start ({writer.ended or 'no answer'}): see stderr")
        return crash, 0.0
    started = time.perf_counter()
    time.sleep(delay_s)  # the kill point: a random moment, not a wait for something
    if not writer.gone.is_set():
        os.kill(writer.pid, signal.SIGKILL)
    wrote = time.perf_counter() - started
    if not writer.gone.wait(READY_TIMEOUT_S):
        crash.problems.append(f"writer {run} was not reaped after SIGKILL")
    crash.acked = list(writer.acks)
    if writer.ended != f"signal {int(signal.SIGKILL)}":
        crash.problems.append(f"writer {run} ended by itself ({writer.ended}): see stderr")
    if writers.junk or crash.acked != list(range(first, first + len(crash.acked))):
        crash.problems.append(f"writer {run}: acks out of order or garbled ({writers.junk[:3]})")
    return crash, wrote


# --- the checks -------------------------------------------------------------------------------------------


@dataclass
class Scan:
    """What the database holds, read back row by row."""

    present: set[tuple[int, int]] = field(default_factory=set)  # (run, seq) of whole, valid writes
    partial: list[str] = field(default_factory=list)  # turns with a message missing, rows failing a check
    turns: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # run -> turns with 2 messages
    facts: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # run -> memories


def scan(db: Database, firsts: dict[int, int], verify: int | None) -> Scan:
    """Every write's rows by their keys, and the contents of run ``verify``'s rows (None: of every row).

    ``firsts``: run -> its first sequence number, which places each turn: a run's turns are its even
    sequence numbers, in order.
    """
    found = Scan()
    bad = _contents(db, firsts, verify, found.partial)
    with db.reading() as c:
        roles: dict[tuple[int, int], list[str]] = defaultdict(list)  # (run, turn) -> its messages' roles
        rows = c.execute(
            sql("SELECT user_id, session_id, seq, turn, role FROM messages WHERE account = :a"),
            {"a": ACCOUNT},
        )
        for user, session, seq, turn, role in rows:
            run = _run_of(user)
            if run not in firsts or session != session_of(run) or seq != 2 * turn + (role == "assistant"):
                found.partial.append(f"message {user}/{session}/{seq}: not where it belongs")
                continue
            roles[(run, turn)].append(role)
        for (run, turn), got in roles.items():
            if sorted(got) != ["assistant", "user"]:
                found.partial.append(f"turn {session_of(run)}/{turn}: {len(got)} message(s)")
                continue
            found.turns[run] += 1
            if (run, turn_seq(firsts[run], turn)) not in bad:
                found.present.add((run, turn_seq(firsts[run], turn)))
        rows = c.execute(
            sql("SELECT user_id, id, slot, status FROM memories WHERE account = :a"), {"a": ACCOUNT}
        )
        for user, memory_id, slot, status in rows:
            run, seq = _run_of(user), _fact_seq(slot)
            if run not in firsts or seq is None or status != "active":
                found.partial.append(f"memory {memory_id}: not where it belongs")
                continue
            found.facts[run] += 1
            if (run, seq) not in bad:
                found.present.add((run, seq))
    return found


def _contents(
    db: Database, firsts: dict[int, int], verify: int | None, partial: list[str]
) -> set[tuple[int, int]]:
    """(run, seq) of the writes whose rows fail their checksum or disagree with their keys."""
    bad: set[tuple[int, int]] = set()
    where, args = (
        ("", {"a": ACCOUNT})
        if verify is None
        else (" AND user_id = :u", {"a": ACCOUNT, "u": owner_of(verify).user})
    )
    with db.reading() as c:
        rows = c.execute(
            sql("SELECT user_id, seq, turn, role, content, meta FROM messages WHERE account = :a" + where),
            args,
        )
        for user, seq, turn, role, content, meta in rows:
            run = _run_of(user)
            expected = (run, turn_seq(firsts[run], turn), role) if run in firsts else None
            if decode(content) != expected or json.loads(meta).get("parts") != [
                {"kind": "text", "text": content}
            ]:
                partial.append(f"message {user}/{seq}: fails its checks")
                bad.add((run or -1, expected[1] if expected else -1))
        rows = c.execute(
            sql("SELECT user_id, id, slot, text, vector FROM memories WHERE account = :a" + where), args
        )
        for user, memory_id, slot, text, blob in rows:
            run, seq = _run_of(user), _fact_seq(slot)
            vector = (
                np.frombuffer(bytes(blob), np.float32) if len(blob) == 4 * HashingEmbedder().dim else None
            )
            if decode(text) != (run, seq, "fact") or vector is None or abs(float(vector @ vector) - 1) > 1e-3:
                partial.append(f"memory {memory_id}: fails its checks")
                bad.add((run or -1, seq if seq is not None else -1))
    return bad


def turn_seq(first: int, turn: int) -> int:
    """The sequence number of a run's ``turn``-th turn: its even numbers from ``first`` on, in order."""
    return first + first % 2 + 2 * turn


def _run_of(user: str) -> int | None:
    return int(user[1:]) if user.startswith("w") and user[1:].isdigit() else None


def _fact_seq(slot: str) -> int | None:
    number = slot.removeprefix("fact ")
    return int(number) if slot.startswith("fact ") and number.isdigit() else None


def integrity(db: Database) -> list[str]:
    """What the database itself, and the relations between tables, say is wrong; [] when nothing."""
    problems: list[str] = []
    with db.reading() as c:
        if db.dialect == "sqlite":
            for pragma in ("integrity_check", "quick_check"):
                answer = [str(row[0]) for row in c.exec_driver_sql(f"PRAGMA {pragma}")]
                if answer != ["ok"]:
                    problems.append(f"PRAGMA {pragma}: {'; '.join(answer[:5])}")
        orphans = {
            "messages without their session": "SELECT COUNT(*) FROM messages m LEFT JOIN sessions s ON "
            "s.account = m.account AND s.user_id = m.user_id AND s.id = m.session_id WHERE s.id IS NULL",
            "sessions without their user": "SELECT COUNT(*) FROM sessions s LEFT JOIN users u ON "
            "u.account = s.account AND u.user_id = s.user_id WHERE u.user_id IS NULL",
            "memories without their user": "SELECT COUNT(*) FROM memories m LEFT JOIN users u ON "
            "u.account = m.account AND u.user_id = m.user_id WHERE u.user_id IS NULL",
        }
        for what, query in orphans.items():
            if count := int(c.execute(sql(query)).scalar_one()):
                problems.append(f"{count} {what}")
    problems += _index_agrees(db)
    return problems


def _index_agrees(db: Database) -> list[str]:
    """Row counts read through each table's index and by a full scan: a broken index disagrees."""
    problems = []
    for table, key in (("messages", "account"), ("memories", "account"), ("sessions", "account")):
        counts = []
        for use_index in (True, False):
            with db.reading() as c:
                if db.dialect == "postgresql":
                    c.exec_driver_sql(f"SET LOCAL enable_seqscan = {'off' if use_index else 'on'}")
                    c.exec_driver_sql(f"SET LOCAL enable_indexscan = {'on' if use_index else 'off'}")
                    c.exec_driver_sql(f"SET LOCAL enable_bitmapscan = {'on' if use_index else 'off'}")
                    c.exec_driver_sql(f"SET LOCAL enable_indexonlyscan = {'on' if use_index else 'off'}")
                    query = f"SELECT COUNT(*) FROM {table} WHERE {key} = :a"
                else:
                    hint = "" if use_index else " NOT INDEXED"
                    query = f"SELECT COUNT(*) FROM {table}{hint} WHERE {key} = :a"
                counts.append(int(c.execute(sql(query), {"a": ACCOUNT}).scalar_one()))
        if counts[0] != counts[1]:
            problems.append(f"{table}: {counts[0]} rows through the index, {counts[1]} by a full scan")
    return problems


def through_the_stores(db: Database, run: int, found: Scan) -> list[str]:
    """The killed run's writes read back through the stores' own calls agree with the rows."""
    owner = owner_of(run)
    history = SessionStore(db).history(owner, session_of(run))
    memories = MemoryStore(db, HashingEmbedder()).list_memories(owner)
    problems = []
    if len(history) != 2 * found.turns[run] or any(decode(m.message.text) is None for m in history):
        problems.append(f"run {run}: history has {len(history)} messages for {found.turns[run]} turns")
    if len(memories) != found.facts[run]:
        problems.append(f"run {run}: list_memories has {len(memories)} for {found.facts[run]} facts")
    return problems


def check(target: str, crashes: list[Crash], everything: bool) -> tuple[Scan, int, list[str]]:
    """After the newest crash: (what is there, acknowledged writes missing, integrity problems).

    Every write is looked for by its rows' keys; the contents of the killed run's rows are verified, and
    of every row when ``everything`` (rows are never rewritten: an old row's contents can only change by
    damage, which the next full pass finds, and on SQLite ``integrity_check`` after every crash).
    """
    db = open_database(target)
    try:
        problems = integrity(db)
        found = scan(
            db, {crash.run: crash.first for crash in crashes}, None if everything else crashes[-1].run
        )
        problems += through_the_stores(db, crashes[-1].run, found)
    finally:
        db.close()
    wanted = {(crash.run, seq) for crash in crashes for seq in crash.acked}
    lost = len(wanted - found.present)
    last = {crash.run: crash.acked[-1] if crash.acked else crash.first - 1 for crash in crashes}
    for run, seq in sorted(found.present - wanted):
        if seq != last[run] + 1:  # only the write in flight at the kill may land unacknowledged
            problems.append(f"run {run}: write {seq} is there but was never started (last ack {last[run]})")
    return found, lost, problems


# --- backends -----------------------------------------------------------------------------------------------


@contextmanager
def sqlite_target(path: str | None) -> Iterator[str]:
    if path is not None:
        if Path(path).exists():
            raise SystemExit(f"{path} exists: give a path for a fresh database")
        yield path
        return
    folder = tempfile.mkdtemp(prefix="ponder-durability-")
    try:
        yield str(Path(folder) / "ponder.db")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgresql_target(url: str | None) -> Iterator[str]:
    """A fresh schema on the server, dropped afterwards (``--url`` or POSTGRES_TEST_URL)."""
    url = url or os.environ.get("POSTGRES_TEST_URL")
    if not url:
        raise SystemExit("PostgreSQL needs --url or POSTGRES_TEST_URL")
    with scratch_database(url, Path("unused.db"), prefix="durability") as (target, _):
        yield target


def writer_target(target: str, run: int) -> str:
    """PostgreSQL: name the writer's connections, so the parent can wait for the server to end them."""
    return f"{target}&application_name=durability-w{run}" if "://" in target else target


def wait_gone(target: str, run: int) -> None:
    """PostgreSQL keeps a killed client's session (and a COMMIT it had sent) going for a moment."""
    if "://" not in target:
        return
    engine = sa.create_engine(target.replace("postgresql://", "postgresql+psycopg://", 1))
    deadline = time.monotonic() + GONE_TIMEOUT_S
    try:
        with engine.connect() as c:
            query = sql("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = :name")
            while (
                c.execute(query, {"name": f"durability-w{run}"}).scalar_one() and time.monotonic() < deadline
            ):
                c.rollback()
                time.sleep(0.01)
    finally:
        engine.dispose()


# --- the run ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    crashes: list[Crash] = field(default_factory=list)
    found: Scan = field(default_factory=Scan)  # the last check's
    lost: int = 0  # the last check's: acknowledged writes missing
    failures: int = 0  # crashes after which something failed
    wrote_s: float = 0.0  # the writers' time from `ready` to the kill


def crash_until_done(args: argparse.Namespace, target: str, writers: Writers) -> Tally:
    """Kill writers until there were ``--kills`` kills and ``--writes`` acknowledged writes."""
    rng = random.Random(args.seed)
    tally, next_seq = Tally(), 0
    while len(tally.crashes) < args.kills or sum(len(c.acked) for c in tally.crashes) < args.writes:
        run = len(tally.crashes) + 1
        crash, wrote = crash_writer(writers, run, next_seq, args.seed * 100_000 + run, rng.uniform(*DELAY_S))
        wait_gone(target, run)
        tally.crashes.append(crash)
        tally.wrote_s += wrote
        next_seq = crash.acked[-1] + 1 if crash.acked else next_seq
        done = len(tally.crashes) >= args.kills and sum(len(c.acked) for c in tally.crashes) >= args.writes
        everything = done or run % FULL_CHECK_EVERY == 0
        tally.found, tally.lost, problems = check(target, tally.crashes, everything)
        crash.problems += problems
        tally.failures += bool(crash.problems)
        if crash.problems or tally.found.partial or tally.lost:
            print(f"crash {run}: lost {tally.lost}, partial {tally.found.partial[:3]}, {crash.problems[:3]}")
        if crash.problems and not crash.acked:
            break  # a writer that cannot start will not start next time either
    return tally


def run_bench(args: argparse.Namespace, target: str) -> dict[str, Any]:
    open_database(target).close()  # create and migrate once, so writers start on a ready schema
    started = time.perf_counter()
    writers = Writers(target)
    try:
        tally = crash_until_done(args, target, writers)
    finally:
        writers.close()
    crashes, found = tally.crashes, tally.found
    wanted = {(crash.run, seq) for crash in crashes for seq in crash.acked}
    landed = found.present - wanted
    for crash in crashes:
        crash.landed = sum(1 for run, _ in landed if run == crash.run)
    return {
        "kills": len(crashes),
        "acknowledged_writes": len(wanted),
        "acknowledged_turns": sum(1 for _, seq in wanted if is_turn(seq)),
        "acknowledged_memories": sum(1 for _, seq in wanted if not is_turn(seq)),
        "lost": tally.lost,
        "partial_rows": len(found.partial),
        "integrity_failures": tally.failures,
        "in_flight_landed": len(landed),
        "writes_per_s": round(len(wanted) / tally.wrote_s, 1) if tally.wrote_s else 0.0,
        "writing_s": round(tally.wrote_s, 2),
        "wall_s": round(time.perf_counter() - started, 1),
        "problems": ([p for crash in crashes for p in crash.problems] + found.partial)[:40],
        "crashes": [
            {k: v for k, v in asdict(c).items() if k != "acked"} | {"acked": len(c.acked)} for c in crashes
        ],
    }


def report(backend: str, figures: dict[str, Any]) -> None:
    met = int(figures["kills"]) >= TARGET_KILLS and int(figures["acknowledged_writes"]) >= TARGET_WRITES
    rows = [
        ("backend", backend),
        ("kills (SIGKILL)", f"{figures['kills']}  (figure: >= {TARGET_KILLS})"),
        ("acknowledged writes", f"{figures['acknowledged_writes']:,}  (figure: >= {TARGET_WRITES:,})"),
        ("  turns / memories", f"{figures['acknowledged_turns']:,} / {figures['acknowledged_memories']:,}"),
        ("lost (must be 0)", figures["lost"]),
        ("partial rows (must be 0)", figures["partial_rows"]),
        ("integrity failures (must be 0)", figures["integrity_failures"]),
        ("in-flight writes that landed", figures["in_flight_landed"]),
        ("writes/s (while writing)", figures["writes_per_s"]),
        ("wall time (s)", figures["wall_s"]),
        ("meets the figure", "yes" if met and _clean(figures) else "no"),
    ]
    for name, value in rows:
        print(f"{name:<32} {value}")


def _clean(figures: dict[str, Any]) -> bool:
    return bool(figures["lost"] == 0 and figures["partial_rows"] == 0 and figures["integrity_failures"] == 0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--path", help="SQLite: a fresh database file (default: under a temporary folder)")
    parser.add_argument("--url", help="PostgreSQL: the server (default: $POSTGRES_TEST_URL)")
    parser.add_argument("--kills", type=int, default=60, help="at least this many kills (default 60)")
    parser.add_argument(
        "--writes", type=int, default=TARGET_WRITES, help="at least this many acknowledged writes"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        fork_writers(args.target)
        return 0
    backend = args.backend
    with sqlite_target(args.path) if backend == "sqlite" else postgresql_target(args.url) as target:
        figures = run_bench(args, target)
    report(backend, figures)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"memory-durability-{backend}.json"
    payload = {"bench": "memory-durability", "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "backend": backend}
    payload |= {"seed": args.seed, "delay_ms": [DELAY_S[0] * 1000, DELAY_S[1] * 1000]} | figures
    out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"saved {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0 if _clean(figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
