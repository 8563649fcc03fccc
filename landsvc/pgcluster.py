"""The embedded PostgreSQL + PostGIS cluster used when no ``LANDSVC_DATABASE_URL`` is set.

The cluster lives in ``<home>/pgdata`` and listens on 127.0.0.1 only, on a free port that is
kept in ``<home>/port`` so that a restart comes back where clients expect it. PostgreSQL
refuses to run as root, so when invoked as root its binaries run as the ``postgres`` user.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import socket
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

DATABASE = "landsvc"
SERVER_USER = "postgres"


class ClusterError(RuntimeError):
    """The embedded cluster could not be set up, started or stopped."""


@dataclass(frozen=True)
class ClusterStatus:
    running: bool
    data_dir: Path
    port: int | None = None
    pid: int | None = None

    @property
    def url(self) -> str | None:
        if not self.running:
            return None
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{DATABASE}"


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
        self.fast = fast
        self._as_root = os.geteuid() == 0

    # -- public -----------------------------------------------------------------------
    def status(self) -> ClusterStatus:
        """Whether the cluster runs, and on which port."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return ClusterStatus(False, self.data_dir)
        result = self._run(["pg_ctl", "status", "-D", str(self.data_dir)], check=False)
        if result.returncode != 0:
            return ClusterStatus(False, self.data_dir)
        lines = pid_file.read_text().splitlines()
        return ClusterStatus(True, self.data_dir, port=int(lines[3]), pid=int(lines[0]))

    def start(self) -> ClusterStatus:
        """Initialise (first time), start (if stopped) and return the running cluster."""
        with self._lock():
            status = self.status()
            if not status.running:
                if not (self.data_dir / "PG_VERSION").exists():
                    self._initdb()
                self._pg_ctl_start(self._choose_port())
                status = self.status()
                if not status.running:
                    raise ClusterError(f"PostgreSQL 未能启动，见日志 {self.log_file}")
            self._ensure_database(status.port)
            return status

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

    def _initdb(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.log_file.touch()
        self._give_to_server_user(self.home, self.data_dir, self.socket_dir, self.log_file)
        argv = ["initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "-A", "trust",
                "-E", "UTF8", "--locale=C.UTF-8"]
        if self.fast:
            argv.append("--no-sync")
        self._run(argv)

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

    def _ensure_database(self, port: int) -> None:
        base = f"host=127.0.0.1 port={port} user={SERVER_USER}"
        with psycopg.connect(f"{base} dbname=postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        with psycopg.connect(f"{base} dbname={DATABASE}", autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except (psycopg.errors.FeatureNotSupported, psycopg.errors.UndefinedFile) as exc:
                raise ClusterError(
                    "PostGIS 未安装：请运行 scripts/bootstrap（Debian: postgresql-15-postgis-3）"
                ) from exc
