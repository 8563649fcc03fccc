"""The embedded PostgreSQL + PostGIS cluster used when no ``LANDSVC_DATABASE_URL`` is set.

The cluster lives in ``<home>/pgdata`` and listens on 127.0.0.1 only, on a free port that is
kept in ``<home>/port`` so that a restart comes back where clients expect it. PostgreSQL
refuses to run as root, so when invoked as root its binaries run as the ``postgres`` user.

Every connection, over TCP or the unix socket, needs the password of the ``postgres`` role
(scram-sha-256). It is generated once and kept in ``<home>/password``, mode 0600, owned by the
operator who runs landsvc; a cluster initialised with ``trust`` by an older landsvc is
switched to the password on its next ``start()``.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
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
        if not pid_file.exists():
            return ClusterStatus(False, self.data_dir)
        result = self._run(["pg_ctl", "status", "-D", str(self.data_dir)], check=False)
        if result.returncode != 0:
            return ClusterStatus(False, self.data_dir)
        lines = pid_file.read_text().splitlines()
        return ClusterStatus(True, self.data_dir, port=int(lines[3]), pid=int(lines[0]),
                             password=self._read_password())

    def start(self) -> ClusterStatus:
        """Initialise (first time), start (if stopped) and return the running cluster."""
        with self._lock():
            password = self._password()
            if self.socket_dir.exists():
                self.socket_dir.chmod(0o700)  # also for clusters made before it was private
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
    @contextmanager
    def _lock(self):
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "cluster.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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

    def _give_to_server_user(self, *paths: Path) -> None:
        if not self._as_root:
            return
        user = pwd.getpwnam(SERVER_USER)
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)
        # Every parent must be traversable by postgres, or initdb fails with a vague error.
        for parent in self.home.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise ClusterError(
                    f"postgres 用户无法进入目录 {parent}：请把 LANDSVC_HOME 设在它可访问的位置"
                )

    def _read_password(self) -> str | None:
        """The password from ``<home>/password``; None when there is none yet."""
        try:
            # O_NOFOLLOW: the home belongs to the server user, whose planted symlink must not
            # make root read (and print in the URL) some other file.
            fd = os.open(self.password_file, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise ClusterError(
                f"无法读取数据库密码文件 {self.password_file}：请以运行 landsvc 的用户执行"
            ) from exc
        with os.fdopen(fd) as fh:
            password = fh.read().strip()
        if not password:
            raise ClusterError(f"数据库密码文件 {self.password_file} 为空")
        return password

    def _password(self) -> str:
        """The password, generated into ``<home>/password`` (0600) the first time."""
        password = self._read_password()
        if password is not None:
            if self.password_file.stat().st_mode & 0o077:
                self.password_file.chmod(0o600)
            return password
        password = secrets.token_urlsafe(32)
        # Written whole under a temporary name, then renamed: never readable by others, never
        # half-written, and in place before initdb so that a failed first start can retry.
        fd, tmp = tempfile.mkstemp(dir=self.home, prefix=".password-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.password_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return password

    def _initdb(self, password: str) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_file.touch()
        self._give_to_server_user(self.home, self.data_dir, self.socket_dir, self.log_file)
        # initdb reads the password from a file, as the server user: a private copy for it
        # alone, removed as soon as initdb is done.
        fd, pwfile = tempfile.mkstemp(dir=self.home, prefix=".initdb-pw-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
            self._give_to_server_user(Path(pwfile))
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
            fh.write(PG_HBA)
            fh.flush()
            os.fsync(fh.fileno())
        if self._as_root:
            os.chown(tmp, owner.st_uid, owner.st_gid)
        os.replace(tmp, hba)

    def _choose_port(self) -> int:
        port_file = self.home / "port"
        if port_file.exists():
            port = int(port_file.read_text())
            if _port_is_free(port):
                return port
        port = _free_port()
        port_file.write_text(str(port))
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
