"""A PostgreSQL server for tests, and throwaway databases on it.

`ensure_postgres()` uses the server named by SYNAPSE_TEST_PG_HOST /
SYNAPSE_TEST_PG_PORT / SYNAPSE_TEST_PG_USER when they are set (e.g. a CI
service). Otherwise it starts a private cluster once per test session: initdb
and pg_ctl run as the `postgres` OS user when tests run as root (initdb
refuses root), in a temp dir under /tmp, on a free port, with durability
switched off for speed; it is stopped and deleted when the process exits.
A cluster whose session was killed before it could clean up is removed by
the next session that starts one.

Databases are created the way the server requires them: UTF8 with the 'C'
collation and ctype, from template0 (or from a template made that way).
"""

import atexit
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import attrs
import psycopg2

logger = logging.getLogger(__name__)

_CLUSTER_PREFIX = "synapse-test-pg-"
_lock = threading.Lock()
_info: "PostgresInfo | None" = None


@attrs.frozen
class PostgresInfo:
    host: str
    port: int
    user: str

    def connect(self, dbname: str = "postgres") -> Any:
        """A psycopg2 connection in autocommit mode (CREATE/DROP DATABASE need it)."""
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=dbname)
        conn.autocommit = True
        return conn

    def database_args(self, dbname: str, **extra: Any) -> dict[str, Any]:
        """`database.args` for make_database_pool("psycopg2", ...)."""
        return {"host": self.host, "port": self.port, "user": self.user, "database": dbname, **extra}


def ensure_postgres() -> PostgresInfo:
    """The session's PostgreSQL server, started on first use."""
    global _info
    with _lock:
        if _info is None:
            host = os.environ.get("SYNAPSE_TEST_PG_HOST")
            if host:
                _info = PostgresInfo(
                    host,
                    int(os.environ.get("SYNAPSE_TEST_PG_PORT", "5432")),
                    os.environ.get("SYNAPSE_TEST_PG_USER", "postgres"),
                )
            else:
                _info = _start_cluster()
        return _info


def create_database(info: PostgresInfo, name: str | None = None, template: str = "template0") -> str:
    """Create an empty (or cloned from `template`) database; return its name."""
    name = name or f"synapse_test_{uuid.uuid4().hex[:12]}"
    conn = info.connect()
    try:
        with conn.cursor() as cur:
            if template == "template0":
                cur.execute(
                    f"CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0"
                )
            else:
                cur.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        conn.close()
    return name


def drop_database(info: PostgresInfo, name: str) -> None:
    """Drop a test database, disconnecting anything still connected to it."""
    conn = info.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        conn.close()


def _find_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for directory in candidates:
        if os.access(os.path.join(directory, "initdb"), os.X_OK):
            return Path(directory)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    raise RuntimeError(
        "No PostgreSQL binaries (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin or on PATH;"
        " install PostgreSQL or point SYNAPSE_TEST_PG_HOST/PORT/USER at a server"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Cluster:
    """Runs PostgreSQL's tools for one cluster directory, as its owner."""

    def __init__(self, bin_dir: Path, base: Path) -> None:
        self.bin_dir = bin_dir
        self.base = base
        self.data = base / "data"
        self.as_root = os.geteuid() == 0
        self.owner = pwd.getpwnam("postgres") if self.as_root else pwd.getpwuid(os.geteuid())

    def run(self, *args: str) -> None:
        kwargs: dict[str, Any] = {}
        if self.as_root:
            kwargs = {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.base, capture_output=True, text=True, check=False,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(self.base), "LANG": "C"}, **kwargs,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stdout}\n{result.stderr}")

    def stop_and_delete(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _reap_abandoned_clusters(bin_dir: Path) -> None:
    """Stop clusters left by test sessions that were killed before their
    exit handlers ran (their owner.pid names a dead process)."""
    for base in Path(tempfile.gettempdir()).glob(f"{_CLUSTER_PREFIX}*"):
        try:
            owner_pid = int((base / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # being set up right now, or not ours
        if not _pid_alive(owner_pid):
            logger.info("Removing PostgreSQL test cluster %s abandoned by process %d", base, owner_pid)
            try:
                _Cluster(bin_dir, base).stop_and_delete()
            except RuntimeError:
                logger.warning("Could not stop abandoned test cluster in %s", base, exc_info=True)


def _start_cluster() -> PostgresInfo:
    bin_dir = _find_bin_dir()
    _reap_abandoned_clusters(bin_dir)
    cluster = _Cluster(bin_dir, Path(tempfile.mkdtemp(prefix=_CLUSTER_PREFIX)))
    base, data = cluster.base, cluster.data
    (base / "owner.pid").write_text(str(os.getpid()))
    os.chown(base, cluster.owner.pw_uid, cluster.owner.pw_gid)
    atexit.register(cluster.stop_and_delete)

    cluster.run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
    port = _free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        " -c full_page_writes=off -c max_connections=200"
    )
    cluster.run("pg_ctl", "-D", str(data), "-l", str(base / "postgres.log"), "-o", options, "-w", "-t", "60", "start")
    logger.info("Started a throwaway PostgreSQL on port %d in %s", port, base)
    return PostgresInfo("127.0.0.1", port, "postgres")
