"""Who has a slide open for review: each open store is a station (a random
id made at opening) that claims the slide its window shows, so that other
stations show it read-only with who holds it, or take it over with a
reason the audit trail keeps.

A claim lives as long as its station beats: a claim whose heartbeat is
older than CLAIM_TIMEOUT_S is free, so a station that died (a kill -9, a
cable pulled) holds nothing for long.  The heartbeat is the database's
clock (Dialect.clock), never a station's own.  Every step is one statement
or runs in the caller's transaction, so two stations claiming one slide at
once cannot both win: the server orders the two upserts on the row.

Claims are not edits: no undo step, no history row.  Only a take-over is
announced (ProjectStore.take_over), so the station that held the slide
shows it read-only within a second rather than at its next beat.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.identity import Identity
from core.store.dialect import Connection, Row, dialect_of
from core.store.rows import now_iso, on_this_clock
from core.store.trail import TAKE_OVER as TAKE_OVER  # the audit table's action, named where claims are

CLAIM_TIMEOUT_S = 90.0  # a claim not renewed for this long is free
HEARTBEAT_INTERVAL_S = 20.0  # how often a window renews its claims: several beats fit in a timeout


@dataclass(frozen=True, slots=True)
class ClaimHolder:
    """Another station's live claim: who, on which workstation, and since
    when (ISO 8601, UTC, as the project's other times)."""

    who: str
    workstation: str
    since: str

    def describe(self) -> str:
        """"in review by AB on bench-2 since 10:42", the time on this computer's clock."""
        return f"in review by {self.who} on {self.workstation} since {on_this_clock(self.since, '%H:%M')}"


class Claims:
    """One station's claims on one connection.  Its methods run under the
    store's lock (the store calls them); none commits a transaction the
    caller opened."""

    def __init__(self, db: Connection, *, timeout_s: float = CLAIM_TIMEOUT_S) -> None:
        self.station = uuid.uuid4().hex
        self.timeout_s = timeout_s
        self._db = db
        self._clock = dialect_of(db).clock()
        # Another station's claim whose heartbeat has not stopped: (station, timeout_s).
        self._live_elsewhere = f"station <> ? AND heartbeat >= {self._clock} - ?"

    def take(self, slide_id: int, identity: Identity) -> ClaimHolder | None:
        """Claim a free or lapsed slide, or renew this station's claim:
        None.  Held by another live station: who holds it, nothing written."""
        for _attempt in range(3):
            if self._upsert(slide_id, identity, only_if_free=True):
                return None
            holder = self.holder(slide_id)
            if holder is not None:
                return holder
            # Released or lapsed between the two statements: try again.
        return self.holder(slide_id)

    def take_from_anyone(self, slide_id: int, identity: Identity) -> ClaimHolder | None:
        """Claim the slide whoever holds it, inside the caller's transaction;
        returns the other station's live claim it replaced, if any."""
        # Touched first: on a server the row stays locked to the transaction's
        # end, so a second take-over at once waits, then reads who took it first.
        self._db.execute("UPDATE claims SET heartbeat = heartbeat WHERE slide_id = ?", (slide_id,))
        holder = self.holder(slide_id)
        self._upsert(slide_id, identity, only_if_free=False)
        return holder

    def holder(self, slide_id: int) -> ClaimHolder | None:
        """Another station's live claim on the slide, if any."""
        row = self._db.execute(
            f"SELECT who, workstation, since FROM claims WHERE slide_id = ? AND {self._live_elsewhere}",
            (slide_id, self.station, self.timeout_s),
        ).fetchone()
        return None if row is None else _holder(row)

    def held_by_others(self) -> dict[int, ClaimHolder]:
        """Every live claim of another station, by slide."""
        rows = self._db.execute(
            f"SELECT slide_id, who, workstation, since FROM claims WHERE {self._live_elsewhere}",
            (self.station, self.timeout_s),
        ).fetchall()
        return {int(row["slide_id"]): _holder(row) for row in rows}

    def release(self, slide_id: int | None = None) -> None:
        """Give one slide's claim back, or (None) every claim of this station."""
        if slide_id is None:
            self._db.execute("DELETE FROM claims WHERE station = ?", (self.station,))
        else:
            self._db.execute("DELETE FROM claims WHERE slide_id = ? AND station = ?", (slide_id, self.station))

    def beat(self) -> set[int]:
        """Renew every claim of this station; returns the slides it still holds."""
        rows = self._db.execute(
            f"UPDATE claims SET heartbeat = {self._clock} WHERE station = ? RETURNING slide_id", (self.station,)
        ).fetchall()
        return {int(row[0]) for row in rows}

    def forget_other_stations(self) -> None:
        """A file's lock proves that no other station has it open: claims
        left by one that ended without releasing (a crash) are void."""
        self._db.execute("DELETE FROM claims WHERE station <> ?", (self.station,))

    def _upsert(self, slide_id: int, identity: Identity, *, only_if_free: bool) -> bool:
        """Write this station's claim; with `only_if_free`, only over no
        claim, a lapsed one or this station's own.  Whether it was written."""
        condition = f" WHERE claims.station = excluded.station OR claims.heartbeat < {self._clock} - ?"
        parameters: tuple[object, ...] = (slide_id, self.station, identity.user, identity.workstation, now_iso())
        if only_if_free:
            parameters += (self.timeout_s,)
        cursor = self._db.execute(
            f"INSERT INTO claims(slide_id, station, who, workstation, since, heartbeat) "
            f"VALUES (?, ?, ?, ?, ?, {self._clock}) "
            "ON CONFLICT(slide_id) DO UPDATE SET station = excluded.station, who = excluded.who, "
            "workstation = excluded.workstation, heartbeat = excluded.heartbeat, "
            # Renewing keeps the time the review began.
            "since = CASE WHEN claims.station = excluded.station THEN claims.since ELSE excluded.since END"
            + (condition if only_if_free else ""),
            parameters,
        )
        return bool(cursor.rowcount == 1)


def _holder(row: Row) -> ClaimHolder:
    return ClaimHolder(row["who"], row["workstation"], row["since"])
