"""CPU time and memory of processes, read from /proc (Linux only).

The benchmark charges CPU to the homeserver by sampling utime+stime of its
whole process tree before and after a phase. cutime/cstime are included so
children that exited (and were reaped) during the phase still count.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Title of a PostgreSQL client backend, e.g.
# "postgres: 15/main: postgres synapse_bench 127.0.0.1(49404) idle"
_PG_BACKEND_TITLE = re.compile(
    r"^postgres: (?:\S+: )?(?P<user>\S+) (?P<db>\S+) (?:\S+\(\d+\)|\[local\])"
)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may contain spaces and parentheses: split after the
    # last ')'. Field 3 (state) is then index 0.
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float | None:
    """utime+stime+cutime+cstime of one process in seconds, None if gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # stat fields 14..17 (1-based) are utime, stime, cutime, cstime.
    ticks = sum(int(fields[i]) for i in range(11, 15))
    return ticks / CLOCK_TICKS


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def process_tree(roots: Iterable[int]) -> list[int]:
    """The given pids plus all their live descendants (workers, forks)."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    stack = [pid for pid in roots if _stat_fields(pid) is not None]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def postgres_pids(database: str | None = None) -> list[int]:
    """Live PostgreSQL server processes.

    With `database`, client backends of other databases are left out (other
    people's tests share the machine's server); the server's own auxiliary
    processes (WAL writer, checkpointer, ...) are always kept because the
    homeserver's writes make them work too.
    """
    pids = []
    for pid in _all_pids():
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
        except (FileNotFoundError, ProcessLookupError):
            continue
        if database is not None:
            db = backend_database(pid)
            if db is not None and db != database:
                continue
        pids.append(pid)
    return pids


def backend_database(pid: int) -> str | None:
    """Database of a PostgreSQL client backend; None for other processes."""
    match = _PG_BACKEND_TITLE.match(_cmdline(pid))
    return match.group("db") if match else None


class CpuSnapshot:
    """CPU seconds per pid at one moment, for diffing across a phase."""

    def __init__(self, pids: Iterable[int]):
        self.by_pid: dict[int, float] = {}
        for pid in pids:
            cpu = process_cpu_seconds(pid)
            if cpu is not None:
                self.by_pid[pid] = cpu

    def seconds_since(
        self, before: CpuSnapshot, only: Callable[[int], bool] | None = None
    ) -> float:
        """CPU used between `before` and this snapshot (by pids `only` keeps).

        A pid absent from `before` started during the phase and is charged in
        full; one absent now exited and its last interval is lost (for the
        homeserver tree the parent's cutime picks it up once reaped).
        """
        return sum(
            cpu - before.by_pid.get(pid, 0.0)
            for pid, cpu in self.by_pid.items()
            if only is None or only(pid)
        )


def rss_bytes(pids: Iterable[int]) -> int:
    """Sum of resident set sizes (VmRSS) of the given live processes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: other work competing for the CPUs."""
    return list(os.getloadavg())


def machine_info() -> dict[str, object]:
    """CPU count, model and memory, for the report header."""
    info: dict[str, object] = {"nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_total_mb"] = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    return info


class PhaseMeter:
    """CPU used by the homeserver, PostgreSQL and this client over a phase."""

    def __init__(self, homeserver_roots: list[int], pg_pids: PgPidSource):
        self.homeserver_roots = homeserver_roots
        self.pg_pids = pg_pids

    def start(self) -> None:
        self._hs = CpuSnapshot(process_tree(self.homeserver_roots))
        self._pg = CpuSnapshot(self.pg_pids()) if self.pg_pids else None
        self._client = _own_cpu_seconds()
        self._machine = machine_busy_seconds()
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float | None]:
        hs = CpuSnapshot(process_tree(self.homeserver_roots))
        pg = CpuSnapshot(self.pg_pids()) if self.pg_pids else None
        hs_s = hs.seconds_since(self._hs) if self.homeserver_roots else None
        pg_s = pg_backends_s = None
        if pg is not None and self._pg is not None:
            pg_s = pg.seconds_since(self._pg)
            pg_backends_s = pg.seconds_since(self._pg, self.pg_pids.is_own_backend)
        client_s = _own_cpu_seconds() - self._client
        machine_s = machine_busy_seconds() - self._machine
        other_s = machine_s - (hs_s or 0.0) - (pg_s or 0.0) - client_s
        capacity_s = (time.monotonic() - self._wall) * (os.cpu_count() or 1)
        return {
            "homeserver_cpu_s": hs_s,
            "postgres_cpu_s": pg_s,
            # Of which client backends (of --pg-db if given); the rest is the
            # server's shared processes: postmaster, WAL writer, checkpointer,
            # autovacuum (which others' databases can make busy too).
            "postgres_backends_cpu_s": pg_backends_s,
            "client_cpu_s": client_s,
            # Everything else that ran meanwhile: the noise indicator, also
            # as a share of what all CPUs could have done in that time.
            # Without --pid the server itself would count as "other".
            "other_cpu_s": other_s if hs_s is not None else None,
            "other_cpu_share": (
                other_s / capacity_s if hs_s is not None and capacity_s > 0 else None
            ),
        }


class PgPidSource:
    """Which PostgreSQL processes to charge: fixed pids or rediscovered.

    Rediscovery at each snapshot catches backends opened during a phase.
    """

    def __init__(
        self,
        fixed: list[int] | None = None,
        database: str | None = None,
        auto: bool = False,
    ):
        self.fixed = fixed or []
        self.database = database
        self.auto = auto

    def __bool__(self) -> bool:
        return self.auto or bool(self.fixed)

    def __call__(self) -> list[int]:
        return postgres_pids(self.database) if self.auto else list(self.fixed)

    def is_own_backend(self, pid: int) -> bool:
        db = backend_database(pid)
        return db is not None and (self.database is None or db == self.database)


def machine_busy_seconds() -> float:
    """Non-idle CPU time of the whole machine (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice]:
    # guest time is already inside user, so only the first eight count.
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system
