"""The embedded PostgreSQL + PostGIS cluster used when no ``LANDSVC_DATABASE_URL`` is set.

The cluster lives in ``<home>/pgdata`` and listens on 127.0.0.1 only, on a free port that is
kept in ``<home>/port`` so that a restart comes back where clients expect it. PostgreSQL
refuses to run as root, so when invoked as root its binaries run as the ``postgres`` user.
That user owns only what the server writes: ``pgdata``, the socket directory ``run`` and
``postgres.log`` (0600). ``<home>`` itself stays the operator's, who alone creates files in it,
and every file the operator opens there is opened without following a symlink; a home that an
older landsvc gave to ``postgres`` is taken back on the next ``start()`` or ``stop()``.

Every connection, over TCP or the unix socket, needs the password of the ``postgres`` role
(scram-sha-256). It is generated once and kept in ``<home>/password``, mode 0600, owned by the
operator who runs landsvc; a cluster initialised with ``trust`` by an older landsvc is
switched to the password on its next ``start()``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

DATABASE = "landsvc"
SERVER_USER = "postgres"
AUTH_METHOD = "scram-sha-256"
# Only what the embedded cluster is for: its own machine, always with the password.
PG_HBA = f"""\
# Written by landsvc: every connection needs the password kept in <LANDSVC_HOME>/password.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 {AUTH_METHOD}
host    all          all   127.0.0.1/32  {AUTH_METHOD}
host    all          all   ::1/128       {AUTH_METHOD}
local   replication  all                 {AUTH_METHOD}
host    replication  all   127.0.0.1/32  {AUTH_METHOD}
host    replication  all   ::1/128       {AUTH_METHOD}
"""


class ClusterError(RuntimeError):
    """The embedded cluster could not be set up, started or stopped."""


@dataclass(frozen=True)
class ClusterStatus:
    running: bool
    data_dir: Path
    port: int | None = None
    pid: int | None = None
    password: str | None = field(default=None, repr=False)  # kept out of logs and tracebacks

    @property
    def url(self) -> str | None:
        """The SQLAlchemy URL, with the password (None when stopped)."""
        if not self.running:
            return None
        # Without a password file the cluster is one an older landsvc set up with trust and
        # not yet started by this one: it still accepts the bare URL.
        auth = SERVER_USER
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{DATABASE}"


def _find_bindir() -> Path:
    override = os.environ.get("LANDSVC_PG_BINDIR")
    if override:
        return Path(override)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ClusterError("找不到 PostgreSQL 服务端程序 (initdb)：请先运行 scripts/bootstrap")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that refuses a symlink at ``path`` with a ClusterError."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        # O_NOFOLLOW fails with ELOOP on a symlink, or ENOTDIR when O_DIRECTORY is asked too.
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and path.is_symlink():
            raise ClusterError(f"{path} 是符号链接，拒绝跟随：请确认无人篡改后删除它") from None
        if exc.errno == errno.ENOTDIR:
            raise ClusterError(f"{path} 不是目录") from None
        raise


def _check_regular(path: Path, fd: int) -> os.stat_result:
    info = os.fstat(fd)
    # A FIFO would hang us; a hard link could pass off another file as this one.
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        raise ClusterError(f"{path} 不是普通文件（或有其他硬链接），拒绝使用")
    return info


def _read_file(path: Path) -> str | None:
    """The text of a small file, None when it is missing; never through a symlink."""
    try:
        fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    with os.fdopen(fd) as fh:
        _check_regular(path, fd)
        return fh.read()


def _replace_file(path: Path, text: str, mode: int) -> None:
    """Write ``path`` whole under a temporary name and rename it into place.

    Never half-written, never readable by others before ``mode`` says so, and the rename
    replaces whatever is at ``path`` (a symlink too) instead of writing through it.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fd, mode)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterError(f"找不到系统用户 {SERVER_USER}：请先运行 scripts/bootstrap") from None


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        # As PostgreSQL binds: a port in TIME_WAIT after our own stop is still ours to reuse.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class PgCluster:
    """A private PostgreSQL cluster in ``home``.

    Parameters
    ----------
    home : Path
        Directory holding the cluster (created if missing).
    fast : bool
        Trade durability for speed (``fsync=off``); for tests only.
    """

    def __init__(self, home: Path, *, fast: bool = False):
        self.home = Path(home).resolve()
        self.data_dir = self.home / "pgdata"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "postgres.log"
        self.password_file = self.home / "password"
        self.fast = fast
        self._as_root = os.geteuid() == 0

    # -- public -----------------------------------------------------------------------
    def status(self) -> ClusterStatus:
        """Whether the cluster runs, on which port, and the password to connect with."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            if _read_file(pid_file) is None:
                return ClusterStatus(False, self.data_dir)
        except PermissionError:
            raise ClusterError(
                f"无权查看数据目录 {self.data_dir}：请以运行 landsvc 的用户（{self._operator()}）执行"
            ) from None
        result = self._run(["pg_ctl", "status", "-D", str(self.data_dir)], check=False)
        if result.returncode != 0:
            return ClusterStatus(False, self.data_dir)
        lines = (_read_file(pid_file) or "").splitlines()
        return ClusterStatus(True, self.data_dir, port=int(lines[3]), pid=int(lines[0]),
                             password=self._read_password())

    def start(self) -> ClusterStatus:
        """Initialise (first time), start (if stopped) and return the running cluster."""
        with self._lock():
            password = self._password()
            self._check_server_can_enter()
            # Every start, not only the first: also brings clusters made by an older landsvc
            # (socket directory 0755, log 0644) to private modes.
            self._give_to_server(self.data_dir, directory=True)
            self._give_to_server(self.socket_dir, directory=True)
            self._give_to_server(self.log_file, directory=False)
            status = self.status()
            if not status.running:
                if not (self.data_dir / "PG_VERSION").exists():
                    self._initdb(password)
                self._pg_ctl_start(self._choose_port())
                status = self.status()
                if not status.running:
                    raise ClusterError(f"PostgreSQL 未能启动，见日志 {self.log_file}")
            self._ensure_database(status.port, password)
            return replace(status, password=password)

    def stop(self) -> bool:
        """Stop the cluster; False when it was not running."""
        with self._lock():
            if not self.status().running:
                return False
            self._run(["pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir)])
            return True

    # -- internals --------------------------------------------------------------------
    def _operator(self) -> str:
        """Who runs landsvc for this home: its owner, by name, for messages."""
        try:
            uid = self.home.stat().st_uid
            return pwd.getpwuid(uid).pw_name
        except (OSError, KeyError):
            return "创建该目录的用户"

    @contextmanager
    def _lock(self):
        self._claim_home()
        path = self.home / "cluster.lock"
        try:
            # Neither follows a symlink nor truncates: whatever sits at that name stays intact.
            fd = _open_nofollow(path, os.O_RDONLY | os.O_CREAT | os.O_NONBLOCK, 0o600)
        except PermissionError:
            raise ClusterError(
                f"无法打开锁文件 {path}：请以运行 landsvc 的用户（{self._operator()}）执行"
            ) from None
        try:
            _check_regular(path, fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _claim_home(self) -> None:
        """Create ``<home>``; as root, make sure it is the operator's and the server can enter."""
        try:
            self.home.mkdir(mode=0o755, parents=True, exist_ok=True)
        except PermissionError:
            raise ClusterError(f"无法创建目录 {self.home}：没有权限") from None
        if not self._as_root:
            return
        # Through a descriptor, so that a path swapped meanwhile cannot redirect the change.
        fd = _open_nofollow(self.home, os.O_RDONLY | os.O_DIRECTORY)
        try:
            info = os.fstat(fd)
            owner, mode = info.st_uid, stat.S_IMODE(info.st_mode)
            if owner == _server_user().pw_uid:
                # An older landsvc gave the whole home to the server user, who could then plant
                # symlinks where root writes: take it back, and nobody else writes in it.
                os.fchown(fd, os.geteuid(), os.getegid())
                owner, mode = os.geteuid(), mode & ~0o022
                os.fchmod(fd, mode)
            if owner == os.geteuid() and not mode & 0o001:
                # The server only passes through to pgdata, run and the log (search, no read).
                os.fchmod(fd, mode | 0o001)
        finally:
            os.close(fd)

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(_find_bindir() / argv[0]), *argv[1:]]
        # As root, drop to postgres; the server must not inherit a virtualenv or pyenv
        # that it cannot read as that user.
        drop = {"user": SERVER_USER, "group": SERVER_USER, "extra_groups": []} if self._as_root else {}
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd="/", **drop)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} 失败：{result.stderr.strip() or result.stdout}")
        return result

    def _check_server_can_enter(self) -> None:
        if not self._as_root:
            return
        # The server user must pass through <home> and every parent, or initdb fails vaguely.
        for directory in (self.home, *self.home.parents):
            if not os.stat(directory).st_mode & 0o001:
                raise ClusterError(
                    f"{SERVER_USER} 用户无法进入目录 {directory}：请把 LANDSVC_HOME 设在它可访问的位置"
                )

    def _give_to_server(self, path: Path, *, directory: bool) -> None:
        """Make ``path`` the server's: created if missing, private (0700/0600), owned by it."""
        if directory:
            with suppress(FileExistsError):
                os.mkdir(path, 0o700)
            flags = os.O_RDONLY | os.O_DIRECTORY
        else:
            # Created here: the server cannot create files in <home>, and pg_ctl -l appends.
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
        fd = _open_nofollow(path, flags, 0o600)
        try:
            info = os.fstat(fd) if directory else _check_regular(path, fd)
            if self._as_root:
                server = _server_user()
                if (info.st_uid, info.st_gid) != (server.pw_uid, server.pw_gid):
                    os.fchown(fd, server.pw_uid, server.pw_gid)
            if info.st_mode & 0o077:
                os.fchmod(fd, 0o700 if directory else 0o600)
        finally:
            os.close(fd)

    def _read_password(self, *, tighten: bool = False) -> str | None:
        """The password from ``<home>/password``; None when there is none yet.

        ``tighten`` sets the operator's file back to 0600 if it was opened up.
        """
        try:
            # Not through a symlink: one planted there must not make root read (and print in
            # the URL) some other file.
            fd = _open_nofollow(self.password_file, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise ClusterError(
                f"无法读取数据库密码文件 {self.password_file}：请以运行 landsvc 的用户"
                f"（{self._operator()}）执行"
            ) from None
        with os.fdopen(fd) as fh:
            info = _check_regular(self.password_file, fd)
            if tighten and info.st_uid == os.geteuid() and info.st_mode & 0o077:
                os.fchmod(fd, 0o600)
            password = fh.read().strip()
        if not password:
            raise ClusterError(f"数据库密码文件 {self.password_file} 为空")
        return password

    def _password(self) -> str:
        """The password, generated into ``<home>/password`` (0600) the first time."""
        password = self._read_password(tighten=True)
        if password is not None:
            return password
        password = secrets.token_urlsafe(32)
        # In place before initdb, so that a failed first start can retry with it.
        _replace_file(self.password_file, password + "\n", 0o600)
        return password

    def _initdb(self, password: str) -> None:
        # initdb reads the password from a file, as the server user: a private copy for it
        # alone, removed as soon as initdb is done.
        fd, pwfile = tempfile.mkstemp(dir=self.home, prefix=".initdb-pw-")  # mode 0600
        try:
            if self._as_root:
                os.fchown(fd, _server_user().pw_uid, _server_user().pw_gid)
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
            argv = ["initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "-A", AUTH_METHOD,
                    f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"]
            if self.fast:
                argv.append("--no-sync")
            self._run(argv)
        finally:
            Path(pwfile).unlink(missing_ok=True)
        self._write_hba()

    def _write_hba(self) -> None:
        hba = self.data_dir / "pg_hba.conf"
        owner = os.stat(self.data_dir)
        tmp = self.data_dir / "pg_hba.conf.landsvc-new"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            if self._as_root:
                # By descriptor: the server user owns this directory and could swap the name
                # for a symlink between open and a chown by path.
                os.fchown(fd, owner.st_uid, owner.st_gid)
            fh.write(PG_HBA)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, hba)

    def _choose_port(self) -> int:
        port_file = self.home / "port"
        kept = _read_file(port_file)
        if kept is not None and _port_is_free(int(kept)):
            return int(kept)
        port = _free_port()
        _replace_file(port_file, str(port), 0o644)
        return port

    def _pg_ctl_start(self, port: int) -> None:
        options = f"-p {port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(["pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir),
                   "-l", str(self.log_file), "-o", options])

    def _connect(self, port: int, password: str, dbname: str) -> psycopg.Connection:
        try:
            return psycopg.connect(host="127.0.0.1", port=port, user=SERVER_USER,
                                   password=password, dbname=dbname, autocommit=True)
        except psycopg.OperationalError as exc:
            if "password authentication failed" in str(exc):
                raise ClusterError(
                    f"嵌入式集群不接受 {self.password_file} 中的密码（该文件丢失或被改动过）。"
                    f"恢复：landsvc db stop，把 {self.data_dir / 'pg_hba.conf'} 中的 "
                    f"{AUTH_METHOD} 改为 trust，再 landsvc db start 即设为该文件中的密码"
                ) from None
            raise

    def _require_password(self, conn: psycopg.Connection, password: str) -> None:
        """Give a cluster that still trusts every local user the password and require it.

        ``conn`` got in without being asked for a password: set it (as a SCRAM verifier made
        here, so the password itself never reaches the server or its log), allow only
        password connections, and reload.
        """
        verifier = conn.pgconn.encrypt_password(password.encode(), SERVER_USER.encode(),
                                                AUTH_METHOD.encode())
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(SERVER_USER), sql.Literal(verifier.decode())))
        self._write_hba()
        self._run(["pg_ctl", "reload", "-D", str(self.data_dir)])
        port = int(conn.info.port)
        deadline = time.monotonic() + 10
        while True:  # the postmaster reads pg_hba.conf when it gets to the signal
            with self._connect(port, password, "postgres") as check:
                if check.pgconn.used_password:
                    return
            if time.monotonic() > deadline:
                raise ClusterError(f"pg_hba.conf 重新加载后仍未要求密码，见日志 {self.log_file}")
            time.sleep(0.05)

    def _ensure_database(self, port: int, password: str) -> None:
        with self._connect(port, password, "postgres") as conn:
            if not conn.pgconn.used_password:
                self._require_password(conn, password)
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        with self._connect(port, password, DATABASE) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except (psycopg.errors.FeatureNotSupported, psycopg.errors.UndefinedFile) as exc:
                raise ClusterError(
                    "PostGIS 未安装：请运行 scripts/bootstrap（Debian: postgresql-15-postgis-3）"
                ) from exc
