"""What the main process and workers share: arguments, config, process life.

    parse args -> load config (generating missing companion files)
    -> set up logging -> write pid file -> HomeServer(config, reactor)
    -> await hs.setup() -> open listeners -> sd_notify READY=1 -> run
    SIGTERM/SIGINT -> stop listening -> await hs.shutdown() -> exit 0

A configuration problem prints one line to stderr and exits 1.
"""

import argparse
import enum
import logging
import os
import signal
import sys
from typing import Any, Callable, Optional

import yaml
from twisted.internet import defer

from synapse.api.errors import ConfigError
from synapse.app.listeners import start_listeners
from synapse.config.files import find_config_files, read_config_files
from synapse.config.generate import generate_config_text, generate_missing_files
from synapse.config.homeserver import HomeServerConfig
from synapse.config.logger import setup_logging
from synapse.util.sdnotify import sdnotify

logger = logging.getLogger(__name__)

HomeServerFactory = Callable[[HomeServerConfig, Any], Any]

# how long a clean shutdown may take before we stop anyway
SHUTDOWN_TIMEOUT_SECONDS = 30


class GenerateMode(enum.Enum):
    MISSING_AND_RUN = "missing-and-run"
    MISSING_AND_EXIT = "missing-and-exit"
    EVERYTHING_AND_EXIT = "everything-and-exit"


def build_arg_parser(description: str, worker: bool) -> argparse.ArgumentParser:
    """Synapse's command line: `-c` (repeatable; a directory means its
    *.yaml), and for the main process the config generation flags."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "-c",
        "--config-path",
        "--config-file",
        dest="config_path",
        action="append",
        metavar="CONFIG_FILE",
        help="A config file, or a directory of *.yaml files. Repeat to merge several, in order.",
    )
    parser.add_argument(
        "--config-directory",
        "--keys-directory",
        dest="config_directory",
        metavar="DIRECTORY",
        help="Where companion files (signing key, log config) live. Default: the last config file's directory.",
    )
    if worker:
        return parser
    modes = parser.add_argument_group("Config generation mode").add_mutually_exclusive_group()
    modes.add_argument(
        "--generate-config",
        dest="generate_mode",
        action="store_const",
        const=GenerateMode.EVERYTHING_AND_EXIT,
        help="Generate a config file (if it does not exist) and its companion files, then exit.",
    )
    modes.add_argument(
        "--generate-missing-configs",
        "--generate-keys",
        dest="generate_mode",
        action="store_const",
        const=GenerateMode.MISSING_AND_EXIT,
        help="Generate missing companion files (signing key, log config), then exit.",
    )
    modes.add_argument(
        "--generate-missing-and-run",
        dest="generate_mode",
        action="store_const",
        const=GenerateMode.MISSING_AND_RUN,
        help="Generate missing companion files, then run (the default).",
    )
    parser.set_defaults(generate_mode=GenerateMode.MISSING_AND_RUN)
    details = parser.add_argument_group("Details for --generate-config")
    details.add_argument("-H", "--server-name", help="The server name to generate a config for.")
    details.add_argument(
        "--report-stats", choices=["yes", "no"], help="Whether the generated config reports usage statistics."
    )
    details.add_argument(
        "--data-directory",
        metavar="DIRECTORY",
        help="Where data (database, media store) goes. Default: the working directory.",
    )
    details.add_argument(
        "--open-private-ports",
        action="store_true",
        help="Bind the generated plain HTTP listener on all interfaces instead of localhost.",
    )
    return parser


def load_or_generate_config(argv: list[str], description: str, worker: bool) -> Optional[HomeServerConfig]:
    """Parse arguments and load the config; None if we only generated files.

    Raises ConfigError for problems in the files; exits via argparse for
    bad arguments.
    """
    parser = build_arg_parser(description, worker)
    args = parser.parse_args(argv)
    files = find_config_files(args.config_path or [])
    if not files:
        parser.error(
            "a config file is required (-c FILE). Generate one with: "
            "--generate-config --server-name NAME --config-path FILE --report-stats=no"
        )
    config_dir = os.path.abspath(args.config_directory or os.path.dirname(os.path.abspath(files[-1])))
    data_dir = os.path.abspath(getattr(args, "data_directory", None) or os.getcwd())
    mode = getattr(args, "generate_mode", None)

    if mode is GenerateMode.EVERYTHING_AND_EXIT:
        if args.report_stats is None:
            parser.error("--generate-config needs --report-stats=yes or --report-stats=no")
        if len(files) != 1:
            parser.error("--generate-config takes exactly one config file")
        path = files[0]
        if not os.path.exists(path):
            if not args.server_name:
                raise ConfigError("a server name is required to generate a config: pass -H/--server-name")
            text = generate_config_text(
                server_name=args.server_name,
                config_dir=config_dir,
                data_dir=data_dir,
                report_stats=args.report_stats == "yes",
                open_private_ports=args.open_private_ports,
            )
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
            generate_missing_files(yaml.safe_load(text), config_dir, data_dir)
            print(
                f"A config file has been generated in {path!r} for server name {args.server_name!r}. "
                "Please review this file and customise it to your needs."
            )
            return None
        print(f"Config file {path!r} already exists. Generating any missing config files.")

    if not worker:
        # workers share the main process's keys: never invent new ones there
        root, _ = read_config_files(files)
        for created in generate_missing_files(root, config_dir, data_dir):
            print(f"Generated {created}")
    if mode in (GenerateMode.EVERYTHING_AND_EXIT, GenerateMode.MISSING_AND_EXIT):
        return None
    return HomeServerConfig.load(files, config_dir=config_dir, data_dir=data_dir)


class _Process:
    """One run of the reactor: start the HomeServer, stop it on a signal."""

    def __init__(self, config: HomeServerConfig, hs_factory: HomeServerFactory, reactor: Any) -> None:
        self.config = config
        self.hs_factory = hs_factory
        self.reactor = reactor
        self.exit_code = 0
        self.hs: Any = None
        self.ports: list[Any] = []
        self._stopping = False

    @property
    def listeners(self) -> list[Any]:
        role = self.config.worker
        return self.config.server.listeners if role.is_main else role.worker_listeners

    async def start(self) -> None:
        try:
            self.hs = self.hs_factory(self.config, self.reactor)
            await self.hs.setup()
            self.reactor.addSystemEventTrigger("before", "shutdown", self._shutdown)
            self.ports = start_listeners(self.hs, self.listeners, self.reactor)
        except ConfigError as e:
            print(str(e), file=sys.stderr)
            self._fail()
            return
        except Exception as e:
            logger.exception("Failed to start")
            print(f"Failed to start: {type(e).__name__}: {e}".replace("\n", " "), file=sys.stderr)
            self._fail()
            return
        self._install_signal_handlers()
        sdnotify("READY=1")
        logger.info(
            "Started %s (instance %s) for %s",
            "main process" if self.config.worker.is_main else self.config.worker.worker_app,
            self.config.worker.instance_name,
            self.config.server.server_name,
        )

    def _fail(self) -> None:
        self.exit_code = 1
        self.stop()

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.reactor.stop()

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, frame: Any) -> None:
            logger.info("Received signal %s; shutting down", signal.Signals(signum).name)
            sdnotify("STOPPING=1")
            self.reactor.callFromThread(self.stop)

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _shutdown(self) -> "defer.Deferred[None]":
        async def shutdown() -> None:
            for port in self.ports:
                try:
                    await port.stopListening()
                except Exception:
                    logger.exception("Error closing listener %s", port)
            if self.hs is not None:
                await self.hs.shutdown()

        d = defer.ensureDeferred(shutdown())
        d.addTimeout(SHUTDOWN_TIMEOUT_SECONDS, self.reactor)

        def failed(f: Any) -> None:
            logger.error("Unclean shutdown: %s", f.getTraceback())
            self.exit_code = 1

        d.addErrback(failed)
        return d


def _write_pid_file(path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{os.getpid()}\n")


def run(config: HomeServerConfig, hs_factory: HomeServerFactory, reactor: Any = None) -> int:
    """Set up logging and the pid file, run the reactor; return the exit code."""
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    role = config.worker
    log_config = config.logging.log_config
    if not role.is_main and role.worker_log_config:
        log_config = role.worker_log_config
    setup_logging(log_config)
    pid_file = config.server.pid_file if role.is_main else role.worker_pid_file
    if pid_file:
        _write_pid_file(pid_file)
    process = _Process(config, hs_factory, reactor)
    try:
        reactor.callWhenRunning(lambda: defer.ensureDeferred(process.start()))
        reactor.run()
    finally:
        if pid_file:
            try:
                os.unlink(pid_file)
            except FileNotFoundError:
                pass
    return process.exit_code


def default_homeserver_factory(config: HomeServerConfig, reactor: Any) -> Any:
    from synapse.server import HomeServer

    return HomeServer(config, reactor)


def run_main(
    argv: Optional[list[str]],
    *,
    description: str,
    worker: bool,
    hs_factory: HomeServerFactory = default_homeserver_factory,
    reactor: Any = None,
) -> int:
    """Everything `main()` does; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        config = load_or_generate_config(argv, description, worker)
        if config is None:
            return 0
        _check_role(config, worker)
        return run(config, hs_factory, reactor)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 1


def _check_role(config: HomeServerConfig, worker: bool) -> None:
    role = config.worker
    files = config.config_files
    if worker and role.is_main:
        raise ConfigError(
            "worker_app must be set (to synapse.app.generic_worker) to run a worker",
            ["worker_app"],
            files[-1] if files else None,
        )
    if not worker and not role.is_main:
        raise ConfigError(
            "worker_app is set: start this process with synapse.app.generic_worker, or remove worker_app",
            ["worker_app"],
            files[-1] if files else None,
        )
