"""Typed, tolerant access to the merged YAML, with errors that say where.

Every section parser reads through a `Node`: a value plus the key path that
led to it and the file it came from. Reading a value converts it the way
Synapse tolerates (booleans from "yes"/"true"/1, ints from "8008", sizes
from "50M") and, when it cannot, raises a one-line `ConfigError` naming the
file and the key path, so an operator can fix it without a traceback.
"""

import re
from typing import Any, Iterator, Optional, Sequence, Union

from synapse.api.errors import ConfigError

PathPart = Union[str, int]

_TRUE_STRINGS = {"true", "yes", "on", "1", "y"}
_FALSE_STRINGS = {"false", "no", "off", "0", "n"}

_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)

_DURATION_UNITS_MS = {
    "": 1,
    "ms": 1,
    "s": 1000,
    "m": 60 * 1000,
    "h": 60 * 60 * 1000,
    "d": 24 * 60 * 60 * 1000,
    "w": 7 * 24 * 60 * 60 * 1000,
    "y": 365 * 24 * 60 * 60 * 1000,
}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$")


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Node:
    """A value in the configuration tree, with its path and source file.

    `present` is False when the key was absent (or null): readers then fall
    back to their default, or raise if the key is required.
    """

    def __init__(
        self,
        value: Any,
        path: Sequence[PathPart] = (),
        file: Optional[str] = None,
        origins: Optional[dict[str, str]] = None,
    ) -> None:
        self.value = value
        self.path = tuple(path)
        self.file = file
        # only the root has origins: which file each top-level key came from
        self._origins = origins

    # -- navigation -----------------------------------------------------

    @property
    def present(self) -> bool:
        return self.value is not None

    def __getitem__(self, key: str) -> "Node":
        file = self.file
        if self._origins is not None:
            file = self._origins.get(key, file)
        if self.value is None:
            return Node(None, self.path + (key,), file)
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_describe(self.value)}")
        return Node(self.value.get(key), self.path + (key,), file)

    def keys(self) -> list[str]:
        """Keys of a mapping (empty if absent)."""
        return list(self.mapping().keys())

    def items(self) -> Iterator[tuple[str, "Node"]]:
        for key in self.keys():
            yield key, self[key]

    def elements(self) -> list["Node"]:
        """The elements of a list as nodes (empty if absent)."""
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_describe(self.value)}")
        return [Node(v, self.path + (i,), self.file) for i, v in enumerate(self.value)]

    def error(self, msg: str) -> ConfigError:
        return ConfigError(_one_line(msg), [str(p) for p in self.path] or None, self.file)

    # -- scalar readers -------------------------------------------------

    def required(self) -> "Node":
        if self.value is None:
            raise self.error("this option is required but missing")
        return self

    def as_str(self, default: Any = None) -> Any:
        if self.value is None:
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, (str, int, float)):
            raise self.error(f"expected a string, got {_describe(self.value)}")
        return str(self.value)

    def as_bool(self, default: Any = False) -> Any:
        v = self.value
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        if isinstance(v, str):
            lowered = v.strip().lower()
            if lowered in _TRUE_STRINGS:
                return True
            if lowered in _FALSE_STRINGS:
                return False
        raise self.error(f"expected a boolean (true/false), got {_describe(v)}")

    def as_int(self, default: Any = None, minimum: Optional[int] = None, maximum: Optional[int] = None) -> Any:
        v = self.value
        if v is None:
            return default
        result: Optional[int] = None
        if isinstance(v, int) and not isinstance(v, bool):
            result = v
        elif isinstance(v, float) and v.is_integer():
            result = int(v)
        elif isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
            result = int(v)
        if result is None:
            raise self.error(f"expected an integer, got {_describe(v)}")
        if minimum is not None and result < minimum:
            raise self.error(f"must be at least {minimum}, got {result}")
        if maximum is not None and result > maximum:
            raise self.error(f"must be at most {maximum}, got {result}")
        return result

    def as_float(self, default: Any = None, minimum: Optional[float] = None) -> Any:
        v = self.value
        if v is None:
            return default
        try:
            if isinstance(v, bool):
                raise ValueError
            result = float(v)
        except (TypeError, ValueError):
            raise self.error(f"expected a number, got {_describe(v)}") from None
        if minimum is not None and result < minimum:
            raise self.error(f"must be at least {minimum}, got {result}")
        return result

    def size(self, default: Any = None) -> Any:
        """A byte size: an integer or a string like "50M", "10K", "1G"."""
        v = self.value
        if v is None:
            return default
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, str):
            m = _SIZE_RE.match(v)
            if m:
                return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).upper()])
        raise self.error(f"expected a size like 50M, 10K or a number of bytes, got {_describe(v)}")

    def duration_ms(self, default: Any = None) -> Any:
        """A duration in milliseconds: an integer or a string like "1d", "30s"."""
        v = self.value
        if v is None:
            return default
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, str):
            m = _DURATION_RE.match(v)
            if m:
                return int(float(m.group(1)) * _DURATION_UNITS_MS[m.group(2) or ""])
        raise self.error(f"expected a duration like 30s, 5m, 1d or milliseconds, got {_describe(v)}")

    def choice(self, choices: Sequence[str], default: Any = None) -> Any:
        value = self.as_str(default)
        if value is not None and value not in choices:
            raise self.error(f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    # -- container readers ----------------------------------------------

    def mapping(self) -> dict[str, Any]:
        if self.value is None:
            return {}
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_describe(self.value)}")
        return self.value

    def str_list(self, default: Any = None, allow_single: bool = False) -> Any:
        """A list of strings; with allow_single a lone string becomes [string]."""
        if self.value is None:
            return default
        if allow_single and isinstance(self.value, str):
            return [self.value]
        return [e.required().as_str() for e in self.elements()]


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class ParseContext:
    """What every section parser gets: the merged root and where files live.

    `config_dir` holds generated companions (signing key, log config);
    `data_dir` holds data (SQLite database, media store), as in Synapse.
    """

    def __init__(self, root: Node, config_dir: str, data_dir: str) -> None:
        self.root = root
        self.config_dir = config_dir
        self.data_dir = data_dir
