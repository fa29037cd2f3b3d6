"""Users, access tokens, admin registration nonces and UI auth sessions.

Owns the tables `users`, `access_tokens`, `registration_nonces`,
`ui_auth_sessions` and `ui_auth_sessions_credentials`. None of them is a
stream, so their write SQL lives here too.
"""

import json
from typing import Any, Optional

from synapse.storage.database import DatabasePool
from synapse.util.clock import Clock

# sequence handing out access_tokens.id, shared by every process
_TOKEN_ID_SEQUENCE = "access_tokens_id_seq"


def _user_row(row: tuple) -> dict[str, Any]:
    name, admin, is_guest, deactivated, user_type, creation_ts = row
    return {
        "name": name,
        "admin": bool(admin),
        "is_guest": bool(is_guest),
        "deactivated": bool(deactivated),
        "user_type": user_type,
        "creation_ts": creation_ts,
    }


_USER_COLUMNS = "name, admin, is_guest, deactivated, user_type, creation_ts"


class RegistrationStore:
    def __init__(self, db: DatabasePool, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._token_sequence_ready = False

    # -- users -------------------------------------------------------------
    async def register_user(
        self,
        user_id: str,
        password_hash: Optional[str],
        *,
        admin: bool = False,
        is_guest: bool = False,
        user_type: Optional[str] = None,
        displayname: Optional[str] = None,
    ) -> bool:
        """Creates the user and their profile row; False if the id is taken."""

        def txn_fn(txn: Any) -> bool:
            txn.execute(
                "INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, user_type)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (user_id, password_hash, self.clock.time_msec(), admin, is_guest, False, user_type),
            )
            if txn.rowcount != 1:
                return False
            txn.execute(
                "INSERT INTO profiles (user_id, displayname, avatar_url) VALUES (?, ?, NULL)"
                " ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname",
                (user_id, displayname),
            )
            return True

        return await self.db.runInteraction("register_user", txn_fn)

    async def get_user(self, user_id: str) -> Optional[dict[str, Any]]:
        """The user's row (name, admin, is_guest, deactivated, user_type, creation_ts) or None."""

        def txn_fn(txn: Any) -> Optional[dict[str, Any]]:
            txn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (user_id,))
            row = txn.fetchone()
            return _user_row(row) if row else None

        return await self.db.runInteraction("get_user", txn_fn)

    async def is_admin(self, user_id: str) -> bool:
        user = await self.get_user(user_id)
        return bool(user and user["admin"])

    async def find_user_ids_case_insensitive(self, user_id: str) -> list[str]:
        """Every user id equal to `user_id` ignoring case (login is case-insensitive)."""

        def txn_fn(txn: Any) -> list[str]:
            txn.execute("SELECT name FROM users WHERE LOWER(name) = LOWER(?)", (user_id,))
            return [r[0] for r in txn.fetchall()]

        return await self.db.runInteraction("find_user_ids_case_insensitive", txn_fn)

    async def get_password_hash(self, user_id: str) -> Optional[str]:
        def txn_fn(txn: Any) -> Optional[str]:
            txn.execute("SELECT password_hash FROM users WHERE name = ?", (user_id,))
            row = txn.fetchone()
            return row[0] if row else None

        return await self.db.runInteraction("get_password_hash", txn_fn)

    async def set_password_hash(self, user_id: str, password_hash: Optional[str]) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, user_id))

        await self.db.runInteraction("set_password_hash", txn_fn)

    async def set_deactivated(self, user_id: str, deactivated: bool) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute("UPDATE users SET deactivated = ? WHERE name = ?", (deactivated, user_id))

        await self.db.runInteraction("set_deactivated", txn_fn)

    # -- access tokens -----------------------------------------------------
    async def add_access_token(
        self, user_id: str, token: str, device_id: Optional[str], valid_until_ms: Optional[int] = None
    ) -> int:
        """Stores a new token and returns its id."""

        def txn_fn(txn: Any) -> int:
            engine = self.db.engine
            if not self._token_sequence_ready:
                txn.execute("SELECT COALESCE(MAX(id), 0) FROM access_tokens")
                engine.ensure_sequence_txn(txn, _TOKEN_ID_SEQUENCE, int(txn.fetchone()[0]))
            (token_id,) = engine.allocate_from_sequence_txn(txn, _TOKEN_ID_SEQUENCE, 1)
            txn.execute(
                "INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms) VALUES (?, ?, ?, ?, ?)",
                (token_id, user_id, device_id, token, valid_until_ms),
            )
            return token_id

        token_id = await self.db.runInteraction("add_access_token", txn_fn)
        self._token_sequence_ready = True
        return token_id

    async def get_user_by_access_token(self, token: str) -> Optional[dict[str, Any]]:
        """The token's owner: user_id, device_id, token_id, valid_until_ms, is_guest, deactivated."""

        def txn_fn(txn: Any) -> Optional[dict[str, Any]]:
            txn.execute(
                "SELECT t.user_id, t.device_id, t.id, t.valid_until_ms, u.is_guest, u.deactivated"
                " FROM access_tokens AS t JOIN users AS u ON u.name = t.user_id WHERE t.token = ?",
                (token,),
            )
            row = txn.fetchone()
            if row is None:
                return None
            return {
                "user_id": row[0],
                "device_id": row[1],
                "token_id": row[2],
                "valid_until_ms": row[3],
                "is_guest": bool(row[4]),
                "deactivated": bool(row[5]),
            }

        return await self.db.runInteraction("get_user_by_access_token", txn_fn)

    async def delete_access_token(self, token: str) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute("DELETE FROM access_tokens WHERE token = ?", (token,))

        await self.db.runInteraction("delete_access_token", txn_fn)

    async def delete_access_tokens(
        self,
        user_id: str,
        *,
        device_ids: Optional[list[str]] = None,
        except_token_id: Optional[int] = None,
    ) -> list[str]:
        """Deletes a user's tokens (only those of `device_ids` if given, never
        `except_token_id`) and returns the deleted tokens so caches can drop them."""

        def txn_fn(txn: Any) -> list[str]:
            where = "user_id = ?"
            args: list[Any] = [user_id]
            if device_ids is not None:
                if not device_ids:
                    return []
                clause, device_args = self.db.engine.in_list_clause("device_id", device_ids)
                where += f" AND {clause}"
                args += device_args
            if except_token_id is not None:
                where += " AND id != ?"
                args.append(except_token_id)
            txn.execute(f"SELECT token FROM access_tokens WHERE {where}", args)
            tokens = [r[0] for r in txn.fetchall()]
            txn.execute(f"DELETE FROM access_tokens WHERE {where}", args)
            return tokens

        return await self.db.runInteraction("delete_access_tokens", txn_fn)

    # -- shared-secret registration nonces ----------------------------------
    async def add_registration_nonce(self, nonce: str) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute(
                "INSERT INTO registration_nonces (nonce, created_ts) VALUES (?, ?)", (nonce, self.clock.time_msec())
            )

        await self.db.runInteraction("add_registration_nonce", txn_fn)

    async def consume_registration_nonce(self, nonce: str, max_age_ms: int) -> bool:
        """Deletes the nonce; True if it existed and was younger than `max_age_ms`.

        Expired nonces are swept on the way so the table stays small.
        """

        def txn_fn(txn: Any) -> bool:
            cutoff = self.clock.time_msec() - max_age_ms
            txn.execute("DELETE FROM registration_nonces WHERE created_ts < ?", (cutoff,))
            txn.execute("DELETE FROM registration_nonces WHERE nonce = ?", (nonce,))
            return txn.rowcount == 1

        return await self.db.runInteraction("consume_registration_nonce", txn_fn)

    # -- user-interactive auth sessions ------------------------------------
    async def create_ui_auth_session(
        self, session_id: str, method: str, uri: str, clientdict: dict[str, Any], expire_before_ms: int
    ) -> None:
        """Creates a session, sweeping sessions created before `expire_before_ms`."""

        def txn_fn(txn: Any) -> None:
            txn.execute(
                "DELETE FROM ui_auth_sessions_credentials WHERE session_id IN"
                " (SELECT session_id FROM ui_auth_sessions WHERE creation_ts < ?)",
                (expire_before_ms,),
            )
            txn.execute("DELETE FROM ui_auth_sessions WHERE creation_ts < ?", (expire_before_ms,))
            txn.execute(
                "INSERT INTO ui_auth_sessions (session_id, creation_ts, method, uri, clientdict, serverdict)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, self.clock.time_msec(), method, uri, json.dumps(clientdict), "{}"),
            )

        await self.db.runInteraction("create_ui_auth_session", txn_fn)

    async def get_ui_auth_session(self, session_id: str) -> Optional[dict[str, Any]]:
        """The session (creation_ts, method, uri, clientdict, serverdict, completed) or None."""

        def txn_fn(txn: Any) -> Optional[dict[str, Any]]:
            txn.execute(
                "SELECT creation_ts, method, uri, clientdict, serverdict FROM ui_auth_sessions WHERE session_id = ?",
                (session_id,),
            )
            row = txn.fetchone()
            if row is None:
                return None
            txn.execute(
                "SELECT stage_type, result FROM ui_auth_sessions_credentials WHERE session_id = ?", (session_id,)
            )
            completed = {stage: json.loads(result) for stage, result in txn.fetchall()}
            return {
                "session_id": session_id,
                "creation_ts": row[0],
                "method": row[1],
                "uri": row[2],
                "clientdict": json.loads(row[3]),
                "serverdict": json.loads(row[4]),
                "completed": completed,
            }

        return await self.db.runInteraction("get_ui_auth_session", txn_fn)

    async def set_ui_auth_clientdict(self, session_id: str, clientdict: dict[str, Any]) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute(
                "UPDATE ui_auth_sessions SET clientdict = ? WHERE session_id = ?", (json.dumps(clientdict), session_id)
            )

        await self.db.runInteraction("set_ui_auth_clientdict", txn_fn)

    async def set_ui_auth_server_data(self, session_id: str, key: str, value: Any) -> None:
        """Remembers `value` under `key` in the session's server-side data."""

        def txn_fn(txn: Any) -> None:
            txn.execute("SELECT serverdict FROM ui_auth_sessions WHERE session_id = ?", (session_id,))
            row = txn.fetchone()
            if row is None:
                return
            data = json.loads(row[0])
            data[key] = value
            txn.execute(
                "UPDATE ui_auth_sessions SET serverdict = ? WHERE session_id = ?", (json.dumps(data), session_id)
            )

        await self.db.runInteraction("set_ui_auth_server_data", txn_fn)

    async def mark_ui_auth_stage_complete(self, session_id: str, stage_type: str, result: Any) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute(
                "INSERT INTO ui_auth_sessions_credentials (session_id, stage_type, result) VALUES (?, ?, ?)"
                " ON CONFLICT (session_id, stage_type) DO UPDATE SET result = excluded.result",
                (session_id, stage_type, json.dumps(result)),
            )

        await self.db.runInteraction("mark_ui_auth_stage_complete", txn_fn)
