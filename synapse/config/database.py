"""The `database` section: which engine, and its connection arguments.

`args` is normalised so the storage layer reads one spelling: `dbname`
becomes `database`, `port`/`cp_min`/`cp_max` are ints. Unknown psycopg2
arguments (sslmode, ...) pass through to libpq untouched.
"""

import os
from typing import Any

import attrs

from synapse.config._base import ParseContext

KEYS = frozenset({"database", "database_path"})

ENGINES = ("sqlite3", "psycopg2")


@attrs.frozen
class DatabaseConfig:
    name: str
    args: dict[str, Any]
    # refuse to start on a PostgreSQL database whose locale is not C (Synapse's check)
    allow_unsafe_locale: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.name == "sqlite3"

    @classmethod
    def parse(cls, ctx: ParseContext) -> "DatabaseConfig":
        root = ctx.root
        node = root["database"]
        if not node.present:
            # Synapse's legacy top-level `database_path`, else a file in the data dir
            path = root["database_path"].as_str(None) or os.path.join(ctx.data_dir, "homeserver.db")
            return cls(name="sqlite3", args={"database": path, "cp_min": 1, "cp_max": 1})

        node.mapping()
        name = node["name"].choice(ENGINES, "sqlite3")
        args_node = node["args"]
        raw_args = dict(args_node.mapping())
        args: dict[str, Any] = {}
        if name == "sqlite3":
            database = args_node["database"].as_str(None)
            if database is None:
                raise args_node["database"].error("the path of the SQLite database file is required")
            # SQLite allows one writer: a single connection avoids lock errors
            args = {"database": database, "cp_min": 1, "cp_max": 1}
        else:
            args = {k: v for k, v in raw_args.items() if v is not None}
            if "dbname" in args:
                args["database"] = args_node["dbname"].as_str()
                del args["dbname"]
            elif "database" in args:
                args["database"] = args_node["database"].as_str()
            for key in ("user", "password", "host"):
                if key in args:
                    args[key] = args_node[key].as_str()
            if "port" in args:
                args["port"] = args_node["port"].as_int(minimum=1, maximum=65535)
            args["cp_min"] = args_node["cp_min"].as_int(5, minimum=1)
            args["cp_max"] = args_node["cp_max"].as_int(10, minimum=1)
            if args["cp_max"] < args["cp_min"]:
                raise args_node["cp_max"].error("cp_max must not be smaller than cp_min")
        allow_unsafe_locale = node["allow_unsafe_locale"].as_bool(False)
        if allow_unsafe_locale:
            # the engine reads it from args when it checks the database locale
            args["allow_unsafe_locale"] = True
        return cls(name=name, args=args, allow_unsafe_locale=allow_unsafe_locale)
