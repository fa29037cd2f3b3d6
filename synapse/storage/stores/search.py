"""The full-text index of room events behind POST /search.

Writes: `index_event_txn` runs inside the events persister's transaction
(synapse/storage/persist_events.py), so an event is searchable exactly when
it is readable, and a redaction removes its target from the index in the
same commit.

Reads: `SearchStore.search` matches a query against the rooms a caller may
search, with a RoomEventFilter's types and senders pushed into SQL. The two
engines differ only in how text is matched and ranked, isolated in one
function each: PostgreSQL uses a tsvector column with a GIN index,
`websearch_to_tsquery` and `ts_rank` (normalized by document
length, like bm25); SQLite an FTS5 table and `bm25`. For
SQLite the search term is turned into an FTS5 expression by `parse_query`,
which understands the same small syntax as `websearch_to_tsquery` (words,
"quoted phrases", OR, -negation), so both engines answer alike.
"""

import re
from typing import Any, Collection, Optional

import attrs

from synapse.api.filtering import Filter
from synapse.events.model import FrozenEvent
from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.storage.stores.stream import filter_clauses

# event type -> the content key indexed for it (and named in /search `keys`)
SEARCHABLE = {"m.room.message": "content.body", "m.room.name": "content.name", "m.room.topic": "content.topic"}
SEARCH_KEYS = tuple(SEARCHABLE.values())

_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD_RE = re.compile(r"\w+", re.UNICODE)


@attrs.frozen
class ParsedQuery:
    """A search term as clauses that must all match; each clause is a list of
    alternative phrases (OR), each phrase a list of words. `excluded`
    phrases must not match."""

    clauses: list[list[list[str]]]
    excluded: list[list[str]]

    def words(self) -> list[str]:
        """The words to highlight: every word the results must or may contain."""
        seen: dict[str, None] = {}
        for clause in self.clauses:
            for phrase in clause:
                for word in phrase:
                    seen.setdefault(word.lower(), None)
        return list(seen)

    def to_fts5(self) -> Optional[str]:
        """An FTS5 MATCH expression, or None when nothing positive is asked."""

        def quoted(phrase: list[str]) -> str:
            return '"' + " ".join(phrase) + '"'

        if not self.clauses:
            return None
        parts = ["(" + " OR ".join(quoted(p) for p in clause) + ")" for clause in self.clauses]
        expression = " AND ".join(parts)
        for phrase in self.excluded:
            expression = f"({expression}) NOT {quoted(phrase)}"
        return expression


def parse_query(term: str) -> ParsedQuery:
    """Parses words, "quoted phrases", `OR` between terms and `-` negation."""
    clauses: list[list[list[str]]] = []
    excluded: list[list[str]] = []
    join_next = False
    for match in _TOKEN_RE.finditer(term):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None and bare == "OR":
            join_next = bool(clauses)
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        words = _WORD_RE.findall(quoted if quoted is not None else bare or "")
        if not words:
            continue
        if negated:
            excluded.append(words)
        elif join_next:
            clauses[-1].append(words)
        else:
            clauses.append([words])
        join_next = False
    return ParsedQuery(clauses, excluded)


# -- writes, inside the persister's transaction -------------------------------
def index_event_txn(txn: LoggingTransaction, event: FrozenEvent, stream_ordering: int) -> None:
    """Indexes a newly persisted event; a redaction removes its target instead.

    Called by the events persister in the event's own transaction."""
    if event.internal_metadata.rejected_reason is not None or event.internal_metadata.outlier:
        return
    if event.redacts is not None:
        delete_from_index_txn(txn, event.redacts)
        return
    key = SEARCHABLE.get(event.type)
    value = event.content.get(key.split(".", 1)[1]) if key is not None else None
    if key is None or not isinstance(value, str) or not value.strip():
        return
    row = (event.event_id, event.room_id, event.sender, key, value, stream_ordering, event.origin_server_ts)
    if txn.database_engine.is_postgres:
        txn.execute(
            "INSERT INTO event_search (event_id, room_id, sender, key, value, stream_ordering, origin_server_ts,"
            " vector) VALUES (?, ?, ?, ?, ?, ?, ?, to_tsvector('english', ?))",
            (*row, value),
        )
    else:
        txn.execute(
            "INSERT INTO event_search (event_id, room_id, sender, key, value, stream_ordering, origin_server_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        txn.execute("INSERT INTO event_search_fts (rowid, value) VALUES (?, ?)", (stream_ordering, value))


def delete_from_index_txn(txn: LoggingTransaction, event_id: str) -> None:
    """Removes an event from the index (it was redacted)."""
    if not txn.database_engine.is_postgres:
        txn.execute("SELECT stream_ordering FROM event_search WHERE event_id = ?", (event_id,))
        row = txn.fetchone()
        if row is not None:
            txn.execute("DELETE FROM event_search_fts WHERE rowid = ?", (row[0],))
    txn.execute("DELETE FROM event_search WHERE event_id = ?", (event_id,))


# -- reads ----------------------------------------------------------------------
@attrs.frozen
class SearchPage:
    """One page of results, best first, and how many events match in all."""

    results: list[tuple[FrozenEvent, float]]
    count: int
    # rows the page consumed (for rank order, the next offset is offset + rows)
    rows: int
    # the stream position of the last row (for recent order, the next bound)
    last_stream: Optional[int]


def _postgres_match(query: str) -> tuple[str, str, str, list[Any]]:
    """(extra FROM item, rank expression, match condition, args) for PostgreSQL."""
    return " CROSS JOIN websearch_to_tsquery('english', ?) AS q", "ts_rank(s.vector, q, 1)", "s.vector @@ q", [query]


def _sqlite_match(query: str) -> tuple[str, str, str, list[Any]]:
    """The same for SQLite FTS5 (bm25 is lower for better matches)."""
    expression = parse_query(query).to_fts5()
    return (
        " JOIN event_search_fts AS f ON f.rowid = s.stream_ordering",
        "-bm25(event_search_fts)",
        "event_search_fts MATCH ?",
        [expression],
    )


class SearchStore:
    def __init__(self, db: DatabasePool, events_store: Any) -> None:
        self._db = db
        self._events = events_store

    async def search(
        self,
        room_ids: Collection[str],
        query: str,
        *,
        keys: Collection[str] = SEARCH_KEYS,
        event_filter: Optional[Filter] = None,
        order_by: str = "rank",
        limit: int = 10,
        offset: int = 0,
        before_stream: Optional[int] = None,
    ) -> SearchPage:
        """Events of `room_ids` matching `query`, best (`rank`) or newest
        (`recent`) first. Rank order pages by `offset`; recent order by
        `before_stream` (only events persisted before that position)."""
        if not room_ids or not keys or not parse_query(query).clauses:
            return SearchPage([], 0, 0, None)
        rows, count = await self._db.runInteraction(
            "search_events",
            self._search_txn,
            list(room_ids),
            query,
            list(keys),
            event_filter,
            order_by,
            limit,
            offset,
            before_stream,
        )
        events = await self._events.get_events([event_id for event_id, _, _ in rows])
        results = [(events[event_id], float(rank)) for event_id, _, rank in rows if event_id in events]
        return SearchPage(results, count, len(rows), rows[-1][1] if rows else None)

    def _search_txn(
        self,
        txn: LoggingTransaction,
        room_ids: list[str],
        query: str,
        keys: list[str],
        event_filter: Optional[Filter],
        order_by: str,
        limit: int,
        offset: int,
        before_stream: Optional[int],
    ) -> tuple[list[tuple[str, int, float]], int]:
        match = _postgres_match if txn.database_engine.is_postgres else _sqlite_match
        from_extra, rank, condition, match_args = match(query)
        room_sql, room_args = txn.database_engine.in_list_clause("s.room_id", room_ids)
        clauses = [condition, room_sql, f"s.key IN ({','.join('?' * len(keys))})"]
        args: list[Any] = [*room_args, *keys]
        filter_sql, filter_args = filter_clauses(event_filter)
        clauses += filter_sql
        args += filter_args
        base = f"FROM event_search AS s{from_extra} JOIN events AS e ON e.event_id = s.event_id"
        # the match arguments come first: they bind in the FROM clause (PostgreSQL) or the condition
        where = " AND ".join(clauses)
        txn.execute(f"SELECT COUNT(*) {base} WHERE {where}", [*match_args, *args])
        count_row = txn.fetchone()
        count = int(count_row[0]) if count_row else 0
        if order_by == "recent":
            if before_stream is not None:
                where += " AND e.stream_ordering < ?"
                args.append(before_stream)
            order, paging = "e.stream_ordering DESC", " LIMIT ?"
            page_args = [limit]
        else:
            order, paging = "rank DESC, e.stream_ordering DESC", " LIMIT ? OFFSET ?"
            page_args = [limit, offset]
        txn.execute(
            f"SELECT e.event_id, e.stream_ordering, {rank} AS rank {base} WHERE {where} ORDER BY {order}{paging}",
            [*match_args, *args, *page_args],
        )
        return [(event_id, int(stream), float(score)) for event_id, stream, score in txn.fetchall()], count
