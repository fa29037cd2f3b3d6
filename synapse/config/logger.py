"""The `logging` section and process logging setup.

`log_config` names a standard Python logging dictConfig YAML file. Configs
written for Synapse reference its log-context filter and flushing handler;
we map those onto standard-library equivalents so such files keep working.
Without a log config, logs go to stderr.
"""

import logging
import logging.config
import os
import sys
from typing import Any, Optional

import attrs
import yaml

from synapse.api.errors import ConfigError
from synapse.config._base import ParseContext

KEYS = frozenset({"log_config"})

LOG_FORMAT = "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"
STDERR_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

_SYNAPSE_CONTEXT_FILTER = "synapse.logging.context.LoggingContextFilter"
_SYNAPSE_FLUSHING_HANDLER = "synapse.logging.handlers.PeriodicallyFlushingMemoryHandler"


@attrs.frozen
class LoggingConfig:
    log_config: Optional[str]

    @classmethod
    def parse(cls, ctx: ParseContext) -> "LoggingConfig":
        return cls(log_config=ctx.root["log_config"].as_str(None))


class RequestFieldFilter(logging.Filter):
    """Gives every record a `request` attribute so formats using
    `%(request)s` (as Synapse's do) never fail; "-" outside requests."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request"):
            record.request = "-"
        return True


def generate_log_config_text(log_file: str) -> str:
    """A dictConfig YAML: everything at INFO to a daily-rotated file and stderr."""
    config = {
        "version": 1,
        "formatters": {"precise": {"format": LOG_FORMAT}},
        "filters": {"request": {"()": "synapse.config.logger.RequestFieldFilter"}},
        "handlers": {
            "file": {
                "class": "logging.handlers.TimedRotatingFileHandler",
                "formatter": "precise",
                "filters": ["request"],
                "filename": log_file,
                "when": "midnight",
                "backupCount": 3,
                "encoding": "utf8",
            },
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "precise",
                "filters": ["request"],
            },
        },
        "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
        "root": {"level": "INFO", "handlers": ["file", "console"]},
        "disable_existing_loggers": False,
    }
    header = "# Python logging configuration (logging.config.dictConfig schema).\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def _adapt_synapse_log_config(config: dict[str, Any]) -> dict[str, Any]:
    """Swap Synapse-only classes for standard ones; keep everything else."""
    for spec in (config.get("filters") or {}).values():
        if isinstance(spec, dict) and spec.get("()") == _SYNAPSE_CONTEXT_FILTER:
            spec.clear()
            spec["()"] = "synapse.config.logger.RequestFieldFilter"
    for spec in (config.get("handlers") or {}).values():
        if isinstance(spec, dict) and spec.get("class") == _SYNAPSE_FLUSHING_HANDLER:
            spec["class"] = "logging.handlers.MemoryHandler"
            spec.pop("period", None)
    return config


def setup_logging(log_config_path: Optional[str]) -> None:
    """Configure the root logger from a dictConfig YAML file, or to stderr.

    Also routes Twisted's own log events and Python warnings into logging.
    Raises ConfigError (naming the file) if the file is unusable.
    """
    if log_config_path:
        try:
            with open(log_config_path, encoding="utf-8") as f:
                config = yaml.safe_load(f)
        except OSError as e:
            raise ConfigError(f"cannot read log config: {e.strerror}", ["log_config"], log_config_path) from None
        except yaml.YAMLError as e:
            raise ConfigError(f"invalid YAML: {e}", ["log_config"], log_config_path) from None
        if not isinstance(config, dict) or "version" not in config:
            raise ConfigError(
                "a log config must be a logging dictConfig mapping with a 'version' key",
                ["log_config"],
                log_config_path,
            )
        try:
            logging.config.dictConfig(_adapt_synapse_log_config(config))
        except (ValueError, TypeError, AttributeError, ImportError) as e:
            raise ConfigError(f"logging setup failed: {e}", ["log_config"], log_config_path) from None
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(STDERR_FORMAT))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)

    logging.captureWarnings(True)
    _route_twisted_logs()


def _route_twisted_logs() -> None:
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False, discardBuffer=True)


def default_log_file(data_dir: str) -> str:
    return os.path.join(data_dir, "homeserver.log")
