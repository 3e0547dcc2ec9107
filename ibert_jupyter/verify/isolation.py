"""OS isolation for verifier workers: namespaces, Landlock, seccomp and resource limits.

Each mechanism is applied when the kernel offers it and otherwise skipped with a stated
reason; ``Isolation`` records which ones the worker really runs under, and the verifier's
report and ``ibert bench verify`` show it. Everything here is Linux-specific and uses only
the C library through ctypes (no extra packages).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import shutil
import struct
import sys
from dataclasses import dataclass, field

# ---------------------------------------------------------------- namespaces (parent side)

NAMESPACE_FLAGS = ("--user", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child")


def namespace_prefix() -> tuple[list[str], str | None]:
    """Command prefix that starts the worker in fresh user/net/pid/ipc/uts namespaces.

    Returns (prefix, reason-if-unavailable). Network namespace: no interfaces but a down
    loopback, so no connections. PID namespace: the worker cannot see or signal any process
    outside it, and everything in it dies with it.
    """
    exe = shutil.which("unshare")
    if exe is None:
        return [], "util-linux 'unshare' not found"
    import subprocess

    try:
        probe = subprocess.run(
            [exe, *NAMESPACE_FLAGS, "--", "true"], capture_output=True, timeout=5, env={}
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"unshare failed: {exc}"
    if probe.returncode != 0:
        message = probe.stderr.decode(errors="replace").strip().splitlines()
        return [], f"namespaces refused: {message[-1] if message else probe.returncode}"
    return [exe, *NAMESPACE_FLAGS, "--"], None


# ---------------------------------------------------------------- resource limits

@dataclass(frozen=True)
class Limits:
    """Resource limits of a verifier worker (``resource``; applied before any candidate)."""

    memory_over_warm_bytes: int = 2 * 2**30  # RLIMIT_AS = the warm worker's size + this
    file_size_bytes: int = 0  # RLIMIT_FSIZE: no file can be written
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 0  # RLIMIT_NPROC: no new process
    cpu_over_deadline_s: int = 2  # RLIMIT_CPU per candidate = its deadline + this


def set_limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    new_hard = value if hard == resource.RLIM_INFINITY else min(hard, value)
    resource.setrlimit(which, (min(value, new_hard), new_hard))


# ---------------------------------------------------------------- Landlock

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_ALL_V1 = (1 << 13) - 1
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """Landlock ABI version of the running kernel (0 when unavailable)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(0, int(version))


def apply_landlock(read_only_dirs: list[str], list_only_dirs: list[str]) -> str:
    """Forbid all file writes, and reads outside ``read_only_dirs``; TCP and signals too.

    ``list_only_dirs`` may be listed but their files not read (a sys.path root whose one
    package is granted separately). Returns a description; raises OSError when refused.
    """
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available in this kernel")
    handled_fs = _FS_ALL_V1
    if abi >= 2:
        handled_fs |= _FS_REFER
    if abi >= 3:
        handled_fs |= _FS_TRUNCATE
    if abi >= 5:
        handled_fs |= _FS_IOCTL_DEV
    handled_net = (_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0
    scoped = (_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("QQQ", handled_fs, handled_net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", handled_fs, handled_net)
    else:
        attr = struct.pack("Q", handled_fs)
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), buf, ctypes.c_size_t(len(attr)),
        ctypes.c_uint32(0),
    )
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    read = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
    try:
        for paths, access in ((read_only_dirs, read), (list_only_dirs, _FS_READ_DIR)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)
                except OSError:
                    continue
                try:
                    rule = _PathBeneath(access, fd)
                    if libc.syscall(
                        ctypes.c_long(_SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                        ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                        ctypes.c_uint32(0),
                    ) < 0:
                        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
                finally:
                    os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(
            ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)
        ) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    parts = ["no writes", "reads only Python's own files"]
    if handled_net:
        parts.append("no TCP")
    if scoped:
        parts.append("no signals or abstract sockets outside")
    return f"landlock ABI {abi}: " + ", ".join(parts)


# ---------------------------------------------------------------- seccomp

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# syscalls a verifier never needs; candidate children additionally lose process creation
_DENIED_X86_64 = {
    "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46,
    "recvmsg": 47, "bind": 49, "listen": 50, "socketpair": 53, "accept4": 288,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "mount": 165,
    "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "kexec_load": 246, "kexec_file_load": 320, "bpf": 321, "perf_event_open": 298,
    "keyctl": 250, "add_key": 248, "request_key": 249, "init_module": 175,
    "finit_module": 313, "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168,
    "userfaultfd": 323, "io_uring_setup": 425, "open_by_handle_at": 304, "kcmp": 312,
    "pidfd_getfd": 438, "mount_setattr": 442, "fsopen": 430, "fsmount": 432, "move_mount": 429,
    "open_tree": 428,
}
_CHILD_DENIED_X86_64 = {
    "execve": 59, "execveat": 322, "fork": 57, "vfork": 58, "clone": 56, "clone3": 435,
    "kill": 62, "tkill": 200, "tgkill": 234, "setpgid": 109, "setsid": 112,
}
_DENIED_AARCH64 = {
    "socket": 198, "connect": 203, "accept": 202, "sendto": 206, "recvfrom": 207,
    "sendmsg": 211, "recvmsg": 212, "bind": 200, "listen": 201, "socketpair": 199,
    "accept4": 242, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97, "setns": 268,
    "kexec_load": 104, "kexec_file_load": 294, "bpf": 280, "perf_event_open": 241,
    "keyctl": 219, "add_key": 217, "request_key": 218, "init_module": 105,
    "finit_module": 273, "delete_module": 106, "reboot": 142, "swapon": 224, "swapoff": 225,
    "userfaultfd": 282, "io_uring_setup": 425, "open_by_handle_at": 265, "kcmp": 272,
    "pidfd_getfd": 438,
}
_CHILD_DENIED_AARCH64 = {
    "execve": 221, "execveat": 281, "clone": 220, "clone3": 435, "kill": 129, "tkill": 130,
    "tgkill": 131, "setpgid": 154, "setsid": 157,
}

_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO, _RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def apply_seccomp(child: bool = False) -> str:
    """Install a seccomp filter denying sockets, ptrace, mounts, namespaces, BPF, modules...

    With ``child`` also exec, fork/clone and signals: candidate code cannot start programs.
    Denied calls fail with EPERM; a foreign architecture is killed.
    """
    machine = platform.machine()
    if sys.platform != "linux" or machine not in _AUDIT_ARCH:
        raise OSError(errno.ENOSYS, f"no seccomp table for {sys.platform}/{machine}")
    table = dict(_DENIED_X86_64 if machine == "x86_64" else _DENIED_AARCH64)
    if child:
        table.update(_CHILD_DENIED_X86_64 if machine == "x86_64" else _CHILD_DENIED_AARCH64)
    numbers = sorted(set(table.values()))
    program = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, _AUDIT_ARCH[machine]),
        (_RET_K, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":  # x32 ABI numbers alias the 64-bit ones: refuse them
        program.append((_JGE_K, 0, 1, 0x40000000))
        program.append((_RET_K, 0, 0, _RET_ERRNO | errno.EPERM))
    for i, number in enumerate(numbers):
        remaining = len(numbers) - i - 1
        program.append((_JEQ_K, remaining + 1, 0, number))
    program.append((_RET_K, 0, 0, _RET_ALLOW))
    program.append((_RET_K, 0, 0, _RET_ERRNO | errno.EPERM))
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), filters)
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
    what = "no exec, fork or signals; " if child else ""
    return f"seccomp: {what}no sockets, ptrace, mounts, namespaces, bpf or modules"


# ---------------------------------------------------------------- what a worker ran under

@dataclass(frozen=True)
class Isolation:
    """What the verifier worker really ran under; ``missing`` says what was skipped and why."""

    process: bool = True
    applied: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    limits: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "process": self.process, "applied": list(self.applied),
            "missing": list(self.missing), "limits": dict(self.limits),
        }

    def summary(self) -> str:
        text = "; ".join(self.applied) or "process only"
        if self.missing:
            text += " (not available: " + "; ".join(self.missing) + ")"
        return text
