"""Finding and merging the YAML files named by `-c`.

Files merge in order, top-level key by top-level key (a later file replaces
a whole top-level value, as Synapse does). A directory stands for all its
`*.yaml` files in sorted order. We remember which file supplied each
top-level key so errors can name it.
"""

import logging
import os
from typing import Any

import yaml

from synapse.api.errors import ConfigError

logger = logging.getLogger(__name__)


def find_config_files(search_paths: list[str]) -> list[str]:
    """Expand directories into their sorted *.yaml files; keep files as given."""
    files: list[str] = []
    for path in search_paths:
        if os.path.isdir(path):
            entries = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if name.endswith(".yaml") and os.path.isfile(os.path.join(path, name))
            )
            files.extend(entries)
        else:
            files.append(path)
    return files


def read_config_files(files: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Load and merge files; return (merged root, top-level key -> file)."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                content = yaml.safe_load(f)
        except OSError as e:
            raise ConfigError(f"cannot read config file: {e.strerror}", file=path) from e
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or "invalid YAML"
            raise ConfigError(f"invalid YAML{where}: {problem}", file=path) from e
        if content is None:
            logger.warning("Config file %s is empty; ignoring it", path)
            continue
        if not isinstance(content, dict):
            raise ConfigError("the file must hold a mapping of option names to values", file=path)
        for key, value in content.items():
            merged[str(key)] = value
            origins[str(key)] = path
    return merged, origins
