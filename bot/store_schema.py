"""The log's schema for both stores, as numbered migrations recorded in `schema_versions`.

Each store applies the migrations it has not applied yet, in order, each in its own
transaction, and refuses a database newer than it knows. Version 1 is the schema as it was
before versioning (SQLite files from then hold `meta.schema_version = 1` and no
`schema_versions` table: its statements are all IF NOT EXISTS, so applying it again is a
no-op that records it). Version 2 adds the tenant to every row and the state several
workers share (sessions, rate-limit windows); SQLite gets the same columns so one code path
serves both.
"""
from __future__ import annotations

from dataclasses import dataclass

VERSIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_versions (
    version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, description TEXT NOT NULL)"""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str  # statements separated by ";\n"

    def statements(self) -> list[str]:
        return [s.strip() for s in self.sql.split(";\n") if s.strip() and not _only_comments(s)]


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())


# Version 1, exactly as the bot created it before migrations.
SQLITE_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,              -- UTC, ISO 8601
    channel TEXT NOT NULL,
    sender TEXT NOT NULL,          -- keyed hash, never a raw id
    text TEXT NOT NULL,            -- redacted
    outcome TEXT NOT NULL,
    topic TEXT,
    score REAL NOT NULL DEFAULT 0,
    options TEXT NOT NULL DEFAULT '[]',
    kind TEXT
);
CREATE INDEX IF NOT EXISTS messages_at ON messages (at);
CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender);
CREATE INDEX IF NOT EXISTS messages_outcome ON messages (outcome, at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    sender TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    UNIQUE (message_id, sender)
);
CREATE TABLE IF NOT EXISTS opt_outs (sender TEXT PRIMARY KEY, channel TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    delivery_id TEXT NOT NULL,     -- the channel's message id (Twilio MessageSid, Telegram update id)
    sender TEXT NOT NULL,
    reply TEXT NOT NULL,           -- what we answered, so a retry gets the same reply
    at TEXT NOT NULL,
    PRIMARY KEY (channel, delivery_id)
);
-- The editors' triage of unanswered questions (bot/editors/triage.py): every action, undoable.
CREATE TABLE IF NOT EXISTS editor_actions (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    editor TEXT NOT NULL,          -- who: the CLI user, or the page and a tag of the session
    action TEXT NOT NULL,          -- add-phrasing, out-of-scope, not-send, dismiss, needs-answer, undo
    entry TEXT,                    -- the knowledge entry it touched, if any
    detail TEXT NOT NULL,          -- JSON: message ids, their previous triage, phrasings written
    undone_by INTEGER
);
CREATE TABLE IF NOT EXISTS triage (
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    state TEXT NOT NULL,           -- noise, not-send, out-of-scope, phrasing, gap
    entry TEXT,
    action_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS question_vectors (  -- sentence vectors of unanswered questions, for grouping
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""

# The tenant (a council on a shared deployment; '' for a single council) on every row, and the
# per-sender state that must be shared when several workers use one database.
SHARED_STATE_V2 = """
ALTER TABLE messages ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE feedback ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE opt_outs ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE editor_actions ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS messages_tenant ON messages (tenant, at);
CREATE TABLE IF NOT EXISTS sessions (
    tenant TEXT NOT NULL,
    sender TEXT NOT NULL,
    state TEXT NOT NULL,           -- JSON: clarify choices, last topic, MORE part, recent answers
    expires DOUBLE PRECISION NOT NULL,  -- Unix time
    PRIMARY KEY (tenant, sender)
);
CREATE TABLE IF NOT EXISTS rate_windows (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,            -- which limiter: messages, keyword confirmations
    sender TEXT NOT NULL,
    times TEXT NOT NULL,           -- JSON list of Unix times within the window
    noticed INTEGER NOT NULL DEFAULT 0,
    touched DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, name, sender)
)
"""

SQLITE = (
    Migration(1, "the log, feedback, opt-outs, deliveries, editors' triage", SQLITE_V1),
    Migration(2, "tenants on every row; shared sessions and rate-limit windows", SHARED_STATE_V2),
)

POSTGRES_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at TEXT NOT NULL,
    channel TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    outcome TEXT NOT NULL,
    topic TEXT,
    score DOUBLE PRECISION NOT NULL DEFAULT 0,
    options TEXT NOT NULL DEFAULT '[]',
    kind TEXT
);
CREATE INDEX IF NOT EXISTS messages_at ON messages (at);
CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender);
CREATE INDEX IF NOT EXISTS messages_outcome ON messages (outcome, at);
CREATE TABLE IF NOT EXISTS feedback (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    sender TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    UNIQUE (message_id, sender)
);
CREATE TABLE IF NOT EXISTS opt_outs (sender TEXT PRIMARY KEY, channel TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    reply TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (channel, delivery_id)
);
CREATE INDEX IF NOT EXISTS deliveries_at ON deliveries (at);
CREATE TABLE IF NOT EXISTS editor_actions (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at TEXT NOT NULL,
    editor TEXT NOT NULL,
    action TEXT NOT NULL,
    entry TEXT,
    detail TEXT NOT NULL,
    undone_by BIGINT
);
CREATE TABLE IF NOT EXISTS triage (
    message_id BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    entry TEXT,
    action_id BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS question_vectors (
    message_id BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BYTEA NOT NULL
)
"""

POSTGRES = (
    Migration(1, "the log, feedback, opt-outs, deliveries, editors' triage", POSTGRES_V1),
    Migration(2, "tenants on every row; shared sessions and rate-limit windows", SHARED_STATE_V2),
)

SCHEMA_VERSION = SQLITE[-1].version
assert SCHEMA_VERSION == POSTGRES[-1].version, "both stores are on the same schema version"
