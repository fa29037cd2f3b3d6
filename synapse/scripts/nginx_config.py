"""Write an nginx config that routes each endpoint to the process serving it.

    python -m synapse.scripts.nginx_config -c homeserver.yaml --workers-dir DIR [-o FILE]

The locations come from the endpoint table (`synapse.routes.build_routes()`),
the same table processes mount their servlets from, so the proxy and the
processes cannot disagree about who serves what. Where a route goes:

* `runs_on="main"`: the main process;
* a route naming a stream (`Route.stream`): that stream's writer(s);
* `runs_on="generic"`: the generic workers (stream writers aside) listening
  for the route's resource (round robin), or main when there are none. `sticky_by="user"`
  hashes on the access token's user (initial syncs, without `since`, may go
  to their own pool); `sticky_by="room"` hashes on the room id in the path;
  `sticky_by="origin"` hashes on the client address (federation senders);
* anything the table does not list: the main process.

The output is an `http {}`-level file (for /etc/nginx/conf.d/): maps,
upstreams and one server block. TLS is left to the operator.
"""

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, Optional, TextIO

import attrs

from synapse.api.errors import ConfigError
from synapse.config.listeners import ListenerConfig
from synapse.config.topology import (
    Deployment,
    Process,
    load_deployment,
    log_warnings_once_to_stderr,
    worker_files_in,
)
from synapse.config.workers import MAIN_INSTANCE, STREAMS

# listener resources the proxy fronts; admin, replication, metrics and health
# stay reachable only on the processes' own ports
PROXIED_RESOURCES = ("client", "federation", "keys", "media")

# path prefixes nothing in the table claims, and the listener resource serving them
FALLBACK_PREFIXES = (
    ("/_matrix/client", "client"),
    ("/_synapse/client", "client"),
    ("/_matrix/federation", "federation"),
    ("/_matrix/key", "federation"),
    ("/_matrix/media", "media"),
)
# the workers doc: media workers take every request under these
MEDIA_PREFIXES = ("/_matrix/media/", "/_matrix/client/v1/media/")

_WILDCARD_BINDS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}

# the access token's user: `syt_<localpart>_...` as a header or a query parameter
_USER_MAPS = r"""map $arg_access_token $synapse_user_from_param {
    default $arg_access_token;
    "~^syt_(?<synapse_param_user>[^_]*)_" $synapse_param_user;
}

map $http_authorization $synapse_user {
    default $http_authorization;
    "~^Bearer syt_(?<synapse_header_user>[^_]*)_" $synapse_header_user;
    "" $synapse_user_from_param;
}

# initial syncs (/sync without `since`, /initialSync) may have their own pool
map "$uri:$arg_since" $synapse_sync_pool {
    default synapse_sync;
    "~/sync:$" synapse_initial_sync;
    "~/initialSync:" synapse_initial_sync;
}
"""

_ROOM_MAP = r"""map $uri $synapse_room {
    default "";
    "~^/_matrix/client/[^/]+/rooms/(?<synapse_room_id>[^/]+)/" $synapse_room_id;
}
"""


class RoutingError(ConfigError):
    """The deployment cannot serve a route the table declares."""


@attrs.frozen
class Upstream:
    name: str
    servers: list[str]
    # a balancing directive ("hash $synapse_user consistent"), or None for round robin
    balance: Optional[str] = None


@attrs.frozen
class Location:
    """One location block: a regex (or prefix) and per-method upstreams."""

    match: str
    regex: bool
    # method -> upstream name (or a map variable); "*" for every other method
    upstream_by_method: dict[str, str]


def server_address(listener: ListenerConfig) -> str:
    """How nginx reaches a listener: its unix socket or its first bind address
    (a wildcard bind means loopback: the tools assume one host)."""
    if listener.path:
        return f"unix:{listener.path}"
    binds = listener.bind_addresses or [""]
    wildcards = [b for b in binds if b in _WILDCARD_BINDS]
    # prefer IPv4 loopback when the listener takes IPv4 at all
    host = _WILDCARD_BINDS[sorted(wildcards, key=lambda b: b != "0.0.0.0")[0]] if wildcards else binds[0]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{listener.port}"


def listener_for(process: Process, resource: str) -> Optional[ListenerConfig]:
    """The plain-HTTP listener of a process that serves `resource`."""
    for listener in process.listeners:
        if listener.type == "http" and not listener.tls and resource in listener.resource_names:
            return listener
    return None


class _Planner:
    """Decides an upstream for every route and collects what it used."""

    def __init__(self, deployment: Deployment, initial_sync_workers: Sequence[str]) -> None:
        if deployment.main is None:
            raise ConfigError("the shared config did not load; nothing to route")
        self.deployment = deployment
        self.main = deployment.main
        self.initial_sync_workers = list(initial_sync_workers)
        self.upstreams: dict[str, Upstream] = {}
        self.uses_user_maps = False
        self.uses_room_map = False
        known = {w.name for w in deployment.workers}
        for name in self.initial_sync_workers:
            if name not in known:
                raise ConfigError(f"--initial-sync-worker {name!r}: no worker config has that worker_name")

    # -- upstreams ------------------------------------------------------

    def _add(self, name: str, processes: list[Process], resource: str, balance: Optional[str] = None) -> str:
        if name not in self.upstreams:
            servers = []
            for process in processes:
                listener = listener_for(process, resource)
                if listener is None:
                    raise RoutingError(
                        f"{process.name} has no plain http listener serving {resource!r}, "
                        "but the proxy must send it requests",
                        ["worker_listeners" if process.worker_file else "listeners"],
                        process.worker_file or self.deployment.shared_files[-1],
                    )
                servers.append(server_address(listener))
            self.upstreams[name] = Upstream(name, servers, balance)
        return name

    def main_upstream(self, resource: str) -> str:
        return self._add(f"synapse_main_{resource}", [self.main], resource)

    def generic_pool(self, resource: str) -> list[Process]:
        """Workers taking general load for `resource`. Stream writers are
        left out: their client listener exists for their stream's endpoints
        (the workers doc), and general load would slow their writes."""
        writers = {name for stream in STREAMS for name in self.main.role.writers_for(stream)}
        return [w for w in self.deployment.workers if w.name not in writers and listener_for(w, resource)]

    def instance(self, name: str) -> Process:
        return self.main if name == MAIN_INSTANCE else self.deployment.worker(name)

    # -- routes ---------------------------------------------------------

    def upstream_for(self, route: Any) -> str:
        resource = route.resource
        stream = route.stream
        if stream:
            if stream not in STREAMS:
                raise RoutingError(f"route {route.servlet.__name__}: unknown stream {stream!r}")
            writers = [self.instance(n) for n in self.main.role.writers_for(stream)]
            if [w.name for w in writers] == [MAIN_INSTANCE]:
                return self.main_upstream(resource)
            name = f"synapse_{stream}_writer_{resource}"
            return self._add(name, writers, resource)
        if route.runs_on == "main":
            return self.main_upstream(resource)
        if route.runs_on != "generic":
            raise RoutingError(f"route {route.servlet.__name__}: unknown runs_on {route.runs_on!r}")
        pool = self.generic_pool(resource)
        if not pool:
            return self.main_upstream(resource)
        sticky = route.sticky_by
        if sticky is None:
            return self._add(f"synapse_generic_{resource}", pool, resource)
        if sticky == "user":
            return self._sync_pools(pool, resource)
        if sticky == "room":
            self.uses_room_map = True
            return self._add(f"synapse_by_room_{resource}", pool, resource, "hash $synapse_room consistent")
        if sticky == "origin":
            return self._add(f"synapse_by_origin_{resource}", pool, resource, "hash $remote_addr consistent")
        raise RoutingError(f"route {route.servlet.__name__}: unknown sticky_by {sticky!r}")

    def _sync_pools(self, pool: list[Process], resource: str) -> str:
        """The doc's split: initial syncs (told apart by the map on path and
        `since`) to their own workers if named, the rest (incremental /sync,
        /events) over the others; both hashed by user."""
        self.uses_user_maps = True
        initial = [w for w in pool if w.name in self.initial_sync_workers] or pool
        ongoing = [w for w in pool if w.name not in self.initial_sync_workers] or pool
        self._add("synapse_initial_sync", initial, resource, "hash $synapse_user consistent")
        self._add("synapse_sync", ongoing, resource, "hash $synapse_user consistent")
        return "$synapse_sync_pool"

    def locations(self, routes: Sequence[Any]) -> list[Location]:
        by_pattern: dict[str, dict[str, str]] = {}
        served = {r for p in self.deployment.processes for r in PROXIED_RESOURCES if listener_for(p, r)}
        for route in routes:
            if route.resource not in served:
                continue
            target = self.upstream_for(route)
            for pattern in route.servlet.PATTERNS:
                methods = by_pattern.setdefault(nginx_regex(pattern.pattern), {})
                for method in servlet_methods(route.servlet):
                    methods.setdefault(method, target)
        result = [Location(regex, True, _collapse(methods)) for regex, methods in by_pattern.items()]
        result += self._fallbacks()
        return result

    def _fallbacks(self) -> list[Location]:
        media_workers = [w for w in self.deployment.workers if listener_for(w, "media") is not None]
        result = []
        if media_workers:
            media = self._add("synapse_media", media_workers, "media")
            # ^~: these prefixes win over any regex location
            result += [Location(f"^~ {prefix}", False, {"*": media}) for prefix in MEDIA_PREFIXES]
        for prefix, resource in FALLBACK_PREFIXES:
            media_elsewhere = media_workers and prefix == "/_matrix/media"
            if listener_for(self.main, resource) is not None and not media_elsewhere:
                result.append(Location(prefix, False, {"*": self.main_upstream(resource)}))
        return result


def servlet_methods(servlet: type) -> list[str]:
    return [m for m in getattr(servlet, "METHODS", ()) if getattr(servlet, f"on_{m}", None) is not None]


def _collapse(methods: dict[str, str]) -> dict[str, str]:
    """One target for all methods when they agree; else the most common one
    (main on a tie: it serves everything) becomes the default and the others
    are listed by method."""
    targets = list(methods.values())
    default = max(sorted(set(targets)), key=lambda t: (targets.count(t), t.startswith("synapse_main_")))
    collapsed = {m: t for m, t in methods.items() if t != default}
    collapsed["*"] = default
    return collapsed


def nginx_regex(pattern: str) -> str:
    """A servlet regex as nginx (PCRE) reads it: named groups become plain
    groups so they do not set nginx variables."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


# -- rendering -------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(
    planner: _Planner,
    locations: list[Location],
    *,
    listen: Sequence[str],
    server_name: str,
    max_body: int,
    sources: Sequence[str],
) -> str:
    out: list[str] = [
        "# Generated by python -m synapse.scripts.nginx_config from:",
        *(f"#   {s}" for s in sources),
        "# Regenerate after changing workers or upgrading, rather than editing by hand.",
        "",
    ]
    if planner.uses_user_maps:
        out.append(_USER_MAPS)
    if planner.uses_room_map:
        out.append(_ROOM_MAP)
    # one $request_method map per distinct method split, shared by its locations
    map_vars: dict[tuple[tuple[str, str], ...], str] = {}
    for location in locations:
        split = tuple(location.upstream_by_method.items())
        if len(split) > 1 and split not in map_vars:
            var = map_vars[split] = f"$synapse_route_{len(map_vars)}"
            out.append(f"map $request_method {var} {{")
            out += [f"    {'default' if m == '*' else m} {upstream};" for m, upstream in split]
            out += ["}", ""]
    for upstream in planner.upstreams.values():
        out.append(f"upstream {upstream.name} {{")
        if upstream.balance:
            out.append(f"    {upstream.balance};")
        out += [f"    server {server};" for server in upstream.servers]
        out += ["    keepalive 16;", "}", ""]
    out.append("server {")
    out += [f"    listen {address};" for address in listen]
    out += [
        f"    server_name {server_name};",
        f"    client_max_body_size {max_body};",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    # long-polling /sync and /events wait up to their timeout",
        "    proxy_read_timeout 180s;",
        "",
    ]
    for location in locations:
        match = f"~ {_quote(location.match)}" if location.regex else location.match
        split = tuple(location.upstream_by_method.items())
        target = map_vars[split] if len(split) > 1 else location.upstream_by_method["*"]
        out += [f"    location {match} {{", f"        proxy_pass http://{target};", "    }"]
    out += ["}", ""]
    return "\n".join(out)


def generate(
    deployment: Deployment,
    routes: Sequence[Any],
    *,
    listen: Sequence[str] = ("80", "[::]:80"),
    server_name: Optional[str] = None,
    initial_sync_workers: Sequence[str] = (),
) -> str:
    """The nginx config text for a loaded, error-free deployment."""
    planner = _Planner(deployment, initial_sync_workers)
    locations = planner.locations(routes)
    config = planner.main.config
    host = server_name or config.server.server_name.split(":")[0]
    sources = [*deployment.shared_files, *(w.files[-1] for w in deployment.workers)]
    return render(
        planner,
        locations,
        listen=listen,
        server_name=host,
        max_body=config.server.max_upload_size,
        sources=sources,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m synapse.scripts.nginx_config",
        description="Write an nginx config routing each endpoint to the process that serves it.",
    )
    parser.add_argument(
        "-c",
        "--config-path",
        action="append",
        required=True,
        metavar="FILE",
        help="The shared config (homeserver.yaml); repeatable, merged in order.",
    )
    parser.add_argument("--workers-dir", metavar="DIR", help="A directory of worker configs (*.yaml).")
    parser.add_argument(
        "--worker-config", action="append", default=[], metavar="FILE", help="A worker config; repeatable."
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="Where to write the config (default: stdout).")
    parser.add_argument(
        "--check", action="store_true", help="Only validate the deployment and the routing; write nothing."
    )
    parser.add_argument(
        "--listen",
        action="append",
        metavar="ADDRESS",
        help="An nginx listen address; repeatable (default: 80 and [::]:80).",
    )
    parser.add_argument("--server-name", help="nginx server_name (default: the host of server_name).")
    parser.add_argument(
        "--initial-sync-worker",
        action="append",
        default=[],
        metavar="NAME",
        help="Send initial syncs (no since) to this worker; repeatable.",
    )
    return parser


def main(argv: Optional[list[str]] = None, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    log_warnings_once_to_stderr()
    try:
        worker_files = list(args.worker_config)
        if args.workers_dir:
            worker_files += worker_files_in(args.workers_dir)
        deployment = load_deployment(args.config_path, worker_files)
        if deployment.errors:
            for error in deployment.errors:
                print(str(error), file=stderr)
            return 1
        from synapse.routes import build_routes

        text = generate(
            deployment,
            build_routes(),
            listen=args.listen or ("80", "[::]:80"),
            server_name=args.server_name,
            initial_sync_workers=args.initial_sync_worker,
        )
    except ConfigError as e:
        print(str(e), file=stderr)
        return 1
    if args.check:
        print(f"ok: main and {len(deployment.workers)} worker(s)", file=stdout)
    elif args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
