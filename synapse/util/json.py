"""JSON helpers shared by the event layer and the HTTP layer.

Canonical JSON (appendices, "Canonical JSON") is what every hash and
signature covers, so one place owns the encoder and the number rules:
integers within [-(2**53)+1, (2**53)-1], no floats, no NaN/Infinity.
"""

import json
from typing import Any, Optional, Union

from canonicaljson import encode_canonical_json

__all__ = [
    "CANONICALJSON_MAX_INT",
    "CANONICALJSON_MIN_INT",
    "encode_canonical_json",
    "find_non_canonical_number",
    "parse_json",
]

CANONICALJSON_MAX_INT = (2**53) - 1
CANONICALJSON_MIN_INT = -CANONICALJSON_MAX_INT


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Invalid JSON value: {name}")


# NaN and +/-Infinity are not JSON; Python accepts them by default and the
# canonical encoder would then fail far from where the bad input came in.
_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(data: Union[bytes, str]) -> Any:
    """Parse JSON text from the network; raises ValueError on anything that is not JSON."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return _decoder.decode(data)


def find_non_canonical_number(value: Any, path: str = "") -> Optional[str]:
    """The dotted path of the first float or out-of-range integer in `value`, if any.

    Room versions 6+ must refuse such values (M_BAD_JSON); earlier
    versions tolerate them, so this reports rather than raises.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int):
        if CANONICALJSON_MIN_INT <= value <= CANONICALJSON_MAX_INT:
            return None
        return path or "."
    if isinstance(value, float):
        return path or "."
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_non_canonical_number(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = find_non_canonical_number(item, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    return None
