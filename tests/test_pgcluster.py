"""The embedded cluster: start, reuse, status, stop through the CLI as a user runs it, its
password, which every connection needs, and a home that the server user cannot write in."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from landsvc.pgcluster import ClusterError, PgCluster

LANDSVC = [sys.executable, "-m", "landsvc.cli"]
PSQL = "/usr/bin/psql"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


def run(*args, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LANDSVC_DATABASE_URL"}
    env["LANDSVC_HOME"] = str(home)
    return subprocess.run([*LANDSVC, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:])


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def connect(cluster: PgCluster, *, host: str = "127.0.0.1", password: str | None = None,
            dbname: str = "landsvc") -> psycopg.Connection:
    # passfile: a ~/.pgpass must not supply the password a test means to leave out.
    return psycopg.connect(host=host, port=cluster.status().port, user="postgres",
                           password=password, dbname=dbname, passfile=os.devnull,
                           connect_timeout=10)


def refused(cluster: PgCluster, **kwargs) -> str:
    with pytest.raises(psycopg.OperationalError) as caught:
        connect(cluster, **kwargs).close()
    return str(caught.value)


def as_nobody(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, user="nobody", group="nogroup", extra_groups=[], cwd="/",
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **env},
                          capture_output=True, text=True, timeout=30)


def as_user_in_python(user: str, code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` as ``user`` in this interpreter, whose files that user may not read.

    landsvc is imported while still root; then the process gives up root for good.
    """
    prelude = ("import os, pwd, sys\n"
               "from landsvc.pgcluster import ClusterError, PgCluster\n"
               "user = pwd.getpwnam(sys.argv[1])\n"
               "os.setgroups([]); os.setgid(user.pw_gid); os.setuid(user.pw_uid)\n")
    return subprocess.run([sys.executable, "-c", prelude + code, user, *args], cwd="/",
                          env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=60)


def server_uid() -> int:
    return pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()


def plant(link: Path, target: Path) -> None:
    """Put a symlink at ``link``, as the server user could in a home that was its own."""
    server = {"user": "postgres", "group": "postgres", "extra_groups": []}
    for argv in (["/bin/rm", "-rf", str(link)], ["/bin/ln", "-s", str(target), str(link)]):
        subprocess.run(argv, check=True, timeout=10, **(server if os.geteuid() == 0 else {}))


def new_home() -> Path:
    # /tmp itself, not pytest's 0700 tmp tree: the server runs as postgres and must get in.
    path = Path(tempfile.mkdtemp(prefix="landsvc-cluster-", dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture
def home():
    path = new_home()
    yield path / "data"
    run("db", "stop", home=path / "data")
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    path = new_home()
    pg = PgCluster(path / "data", fast=True)
    pg.start()
    yield pg
    pg.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def older_cluster():
    """A cluster as landsvc set it up before passwords: initdb -A trust, no password file, and
    (as root) the whole home given to postgres, its log readable by all."""
    path = new_home()
    pg = PgCluster(path / "data", fast=True)
    pg.data_dir.mkdir(mode=0o700, parents=True)
    pg.home.chmod(0o755)
    pg.socket_dir.mkdir()
    pg.socket_dir.chmod(0o755)
    pg.log_file.touch()
    pg.log_file.chmod(0o644)
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        for owned in (pg.home, pg.data_dir, pg.socket_dir, pg.log_file):
            os.chown(owned, postgres.pw_uid, postgres.pw_gid)
    pg._run(["initdb", "-D", str(pg.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"])
    yield pg
    pg.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_start_reuse_status_stop(home):
    assert run("db", "status", home=home).returncode == 3

    first = run("db", "start", home=home)
    assert first.returncode == 0, first.stderr
    started = fields(first.stdout)
    password = (home / "password").read_text().strip()
    assert started["url"] == (f"postgresql+psycopg://postgres:{password}@127.0.0.1:"
                              f"{started['port']}/landsvc")
    with psycopg.connect(libpq_url(started["url"])) as conn:
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'"
                            ).fetchone()
        assert conn.execute("SHOW fsync").fetchone()[0] == "on"  # users' data are durable
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"

    again = run("db", "start", home=home)
    assert fields(again.stdout) == started  # the running cluster is reused, not restarted
    status = run("db", "status", home=home)
    assert status.returncode == 0 and fields(status.stdout) == started
    assert home.stat().st_uid == os.geteuid()
    assert (home / "pgdata").stat().st_uid == server_uid()

    assert run("db", "stop", home=home).stdout.strip() == "stopped"
    assert run("db", "status", home=home).returncode == 3
    assert run("db", "stop", home=home).stdout.strip() == "not running"

    restarted = fields(run("db", "start", home=home).stdout)
    assert restarted["port"] == started["port"] and restarted["pid"] != started["pid"]


def test_commands_start_the_cluster_on_demand(home):
    upgraded = run("db", "upgrade", home=home)
    assert upgraded.returncode == 0, upgraded.stderr
    assert run("db", "status", home=home).returncode == 0


def test_every_connection_needs_the_password(cluster, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    socket_dir = str(cluster.socket_dir)
    assert "no password supplied" in refused(cluster)
    assert "no password supplied" in refused(cluster, host=socket_dir)
    assert "no password supplied" in refused(cluster, dbname="postgres")
    assert "password authentication failed" in refused(cluster, password="postgres")
    assert "password authentication failed" in refused(cluster, host=socket_dir,
                                                       password="postgres")

    password = cluster.password_file.read_text().strip()
    for host in ("127.0.0.1", socket_dir):
        with connect(cluster, host=host, password=password) as conn:
            assert conn.pgconn.used_password
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    with psycopg.connect(libpq_url(cluster.status().url)) as conn:
        assert conn.execute("SELECT postgis_lib_version()").fetchone()

    hba = (cluster.data_dir / "pg_hba.conf").read_text()
    assert "trust" not in hba
    assert password not in cluster.log_file.read_text()


def test_the_password_is_private_to_the_operator(cluster):
    info = cluster.password_file.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()
    assert not cluster.password_file.is_relative_to(cluster.data_dir)
    assert stat.S_IMODE(cluster.socket_dir.stat().st_mode) == 0o700
    assert not list(cluster.home.glob(".*"))  # initdb's copy and temporary files are gone
    assert "password" not in repr(cluster.status())


def test_the_server_user_owns_only_what_the_server_writes(cluster):
    home = cluster.home.stat()
    assert home.st_uid == os.geteuid()
    assert stat.S_IMODE(home.st_mode) == 0o755
    owned = {path.name for path in cluster.home.iterdir()
             if path.lstat().st_uid == server_uid() != os.geteuid()}
    assert owned == ({"pgdata", "run", "postgres.log"} if os.geteuid() == 0 else set())
    for path in (cluster.data_dir, cluster.socket_dir):
        assert path.stat().st_uid == server_uid()
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    log = cluster.log_file.stat()
    assert log.st_uid == server_uid() and stat.S_IMODE(log.st_mode) == 0o600
    assert "database system is ready" in cluster.log_file.read_text()  # pg_ctl -l still writes it
    lock = (cluster.home / "cluster.lock").lstat()
    assert stat.S_ISREG(lock.st_mode) and lock.st_uid == os.geteuid()
    assert stat.S_IMODE(lock.st_mode) == 0o600


@pytest.mark.parametrize("target_exists", [True, False], ids=["file", "dangling"])
def test_a_symlink_in_place_of_the_lock_is_not_followed(home, target_exists):
    home.mkdir()
    scratch = home.parent / "scratch"
    if target_exists:
        scratch.write_text("not landsvc's\n")
        scratch.chmod(0o644)
    (home / "cluster.lock").symlink_to(scratch)

    started = run("db", "start", home=home)
    assert started.returncode == 1 and "符号链接" in started.stderr, started.stderr
    assert "Traceback" not in started.stderr
    with pytest.raises(ClusterError, match="符号链接"):
        PgCluster(home).stop()
    stopped = run("db", "stop", home=home)
    assert stopped.returncode == 1 and "符号链接" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    if target_exists:
        assert scratch.read_text() == "not landsvc's\n"
        assert stat.S_IMODE(scratch.stat().st_mode) == 0o644
        assert scratch.stat().st_uid == os.geteuid()
    else:
        assert not scratch.exists()
    assert (home / "cluster.lock").is_symlink()  # left for the operator to look at

    (home / "cluster.lock").unlink()
    assert run("db", "start", home=home).returncode == 0


@as_root
@pytest.mark.parametrize("name", ["cluster.lock", "port", "password", "postgres.log", "run"])
def test_a_home_that_was_postgres_is_taken_back_before_anything_is_opened(older_cluster, name):
    pg = older_cluster
    scratch = pg.home.parent / "scratch"
    if name == "run":
        scratch.mkdir(mode=0o755)
    else:
        scratch.write_text("not landsvc's\n")
        scratch.chmod(0o644)
    before = scratch.stat()
    plant(pg.home / name, scratch)  # while the home was still the server user's

    with pytest.raises(ClusterError, match="符号链接"):
        pg.start()
    after = scratch.stat()
    assert (after.st_uid, after.st_mode, after.st_size) == (before.st_uid, before.st_mode,
                                                           before.st_size)
    if name != "run":
        assert scratch.read_text() == "not landsvc's\n"
    assert pg.home.stat().st_uid == os.geteuid()  # already the operator's: nothing new planted
    assert stat.S_IMODE(pg.home.stat().st_mode) == 0o755

    (pg.home / name).unlink()  # the operator looked and removed it
    assert pg.start().running
    assert pg.log_file.stat().st_uid == server_uid()


@as_root
@pytest.mark.parametrize("user", ["nobody", "postgres"])
def test_status_by_a_user_who_cannot_read_the_password_says_so(cluster, user):
    shown = as_user_in_python(user, (
        "try:\n"
        "    PgCluster(sys.argv[2]).status()\n"
        "except ClusterError as exc:\n"
        "    sys.exit(str(exc))\n"
    ), str(cluster.home))
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert "请以运行 landsvc 的用户（root）执行" in shown.stderr
    # postgres gets as far as the password, nobody not even into the data directory.
    unreadable = cluster.password_file if user == "postgres" else cluster.data_dir
    assert str(unreadable) in shown.stderr


@as_root
def test_another_local_user_cannot_read_the_password_or_connect(cluster):
    port = str(cluster.status().port)
    psql = [PSQL, "-X", "-w", "-U", "postgres", "-d", "landsvc", "-p", port, "-c", "SELECT 1"]

    read = as_nobody("/bin/cat", str(cluster.password_file))
    assert read.returncode != 0 and "Permission denied" in read.stderr
    log = as_nobody("/bin/cat", str(cluster.log_file))
    assert log.returncode != 0 and "Permission denied" in log.stderr
    tcp = as_nobody(*psql, "-h", "127.0.0.1")
    assert tcp.returncode != 0 and "no password supplied" in tcp.stderr
    unix = as_nobody(*psql, "-h", str(cluster.socket_dir))
    assert unix.returncode != 0 and "Permission denied" in unix.stderr
    guessed = as_nobody(*psql, "-h", "127.0.0.1", PGPASSWORD="postgres")
    assert guessed.returncode != 0 and "password authentication failed" in guessed.stderr

    # The password, and nothing else, is what keeps that user out.
    password = cluster.password_file.read_text().strip()
    allowed = as_nobody(*psql, "-h", "127.0.0.1", PGPASSWORD=password)
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_a_trusting_cluster_from_an_older_landsvc_is_given_the_password(older_cluster, running,
                                                                        monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    pg = older_cluster
    if running:
        pg._pg_ctl_start(pg._choose_port())
        with connect(pg, dbname="postgres") as conn:  # as it was: anyone gets in
            assert not conn.pgconn.used_password
    assert not pg.password_file.exists()

    status = pg.start()
    password = pg.password_file.read_text().strip()
    assert status.password == password
    assert stat.S_IMODE(pg.password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(pg.socket_dir.stat().st_mode) == 0o700
    assert "no password supplied" in refused(pg)
    assert "no password supplied" in refused(pg, host=str(pg.socket_dir))
    with psycopg.connect(libpq_url(status.url)) as conn:
        assert conn.pgconn.used_password
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'"
                            ).fetchone()
    assert password not in pg.log_file.read_text()
    # The home is the operator's again; the server keeps only what it writes, privately.
    assert pg.home.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(pg.home.stat().st_mode) == 0o755
    assert pg.log_file.stat().st_uid == server_uid()
    assert stat.S_IMODE(pg.log_file.stat().st_mode) == 0o600

    # Done once: a second start leaves the password and pg_hba.conf alone, across a restart too.
    hba = pg.data_dir / "pg_hba.conf"
    written = hba.stat().st_mtime_ns
    assert pg.start().url == status.url
    pg.stop()
    assert pg.start().password == password
    assert hba.stat().st_mtime_ns == written
    assert "no password supplied" in refused(pg)
