"""The host-side helpers: uid leases, /proc accounting, and finding what an unprivileged uid cannot reach."""

import os
import shutil
import subprocess
import tempfile

import pytest

from ponder.sandbox import procs
from ponder.sandbox.interpreter import host_interpreter, outermost
from ponder.sandbox.launch import hidden_ancestor
from ponder.sandbox.uids import UID_BASE, UID_SPAN, lease_uid


def test_leased_uids_are_distinct_high_and_unprivileged() -> None:
    leases = [lease_uid() for _ in range(20)]
    try:
        uids = [lease.uid for lease in leases]
        assert len(set(uids)) == len(uids)
        assert all(UID_BASE <= uid < UID_BASE + UID_SPAN for uid in uids)
    finally:
        for lease in leases:
            lease.release()


def test_processes_of_a_uid_are_found_and_killed() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process under another uid")
    uid = UID_BASE + UID_SPAN - 1
    child = subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[])
    try:
        assert procs.pids_of_uid(uid) == [child.pid]
        assert procs.task_count(uid) == 1
        assert procs.kill_uid(uid)
        assert child.wait(timeout=10) == -9
    finally:
        child.kill()


def test_sweeping_root_or_ourselves_is_refused() -> None:
    with pytest.raises(ValueError):
        procs.kill_uid(0)
    with pytest.raises(ValueError):
        procs.kill_uid(os.getuid())


def test_our_own_process_is_visible_in_proc() -> None:
    me = os.getpid()
    assert procs.status(me)["Pid"] == str(me)
    assert "net" in procs.namespaces(me)
    assert "CapEff" in procs.capabilities(me)
    assert procs.fd_targets(me)


def test_hidden_ancestor_finds_directories_others_cannot_search() -> None:
    base = tempfile.mkdtemp()  # directly under the temp dir, whose ancestors all may be searched
    try:
        os.chmod(base, 0o755)
        private = os.path.join(base, "private")
        os.makedirs(os.path.join(private, "inner", "leaf"))
        os.chmod(private, 0o700)
        assert hidden_ancestor(os.path.join(private, "inner", "leaf")) == private
        os.chmod(private, 0o755)
        assert hidden_ancestor(os.path.join(private, "inner", "leaf")) is None
    finally:
        shutil.rmtree(base)


def test_interpreter_roots_cover_the_executable_and_site_packages() -> None:
    interpreter = host_interpreter()
    for needed in (interpreter.executable, *interpreter.site_dirs):
        assert any(needed.startswith(root.rstrip("/") + "/") or needed == root for root in interpreter.roots)
    assert sorted(outermost(["/a/b", "/a", "/c", "/a/b/c", "/ab"])) == ["/a", "/ab", "/c"]
