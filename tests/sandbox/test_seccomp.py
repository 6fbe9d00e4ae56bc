import subprocess
import sys
import textwrap

from ponder.sandbox.seccomp import policy_bpf

_CHILD = textwrap.dedent(
    """
    import errno, os, socket, sys
    from ponder.sandbox.seccomp import load_filter, policy_bpf
    load_filter(policy_bpf())
    for family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX, socket.AF_NETLINK):
        try:
            socket.socket(family, socket.SOCK_STREAM if family != socket.AF_NETLINK else socket.SOCK_RAW)
        except PermissionError:
            continue
        sys.exit("socket(%d) was allowed" % family)
    a, b = socket.socketpair()  # AF_UNIX pairs stay allowed: they reach nothing outside
    r, w = os.pipe()
    os.write(w, b"ok")
    assert os.read(r, 2) == b"ok"
    pid = os.fork()  # plain fork (clone without CLONE_NEW*) works
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print("contained")
    """
)


def test_policy_compiles_to_whole_bpf_instructions() -> None:
    program = policy_bpf()
    assert program and len(program) % 8 == 0
    assert policy_bpf() is program  # built once per process


def test_loaded_policy_denies_sockets_and_allows_ordinary_work() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "contained"
