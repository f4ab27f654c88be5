"""The tables, in SQLAlchemy Core. Alembic migrations create them; this is the model.

Timestamps are stored as fixed-width ISO-8601 UTC text with microseconds
(``2026-11-28T13:17:21.000000Z``): STIX timestamps arrive as text, sort correctly as
text, and read the same on SQLite and PostgreSQL. :mod:`steppe.storage.timestamps`
converts.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "alert_comments",
    "alert_events",
    "alert_history",
    "alerts",
    "api_tokens",
    "audit_head",
    "audit_log",
    "blocklist_entries",
    "blocklists",
    "correlation_values",
    "correlations",
    "feed_entries",
    "feed_groups",
    "feeds",
    "group_members",
    "id_sequences",
    "idempotency_keys",
    "incident_comments",
    "incident_evidence",
    "incident_evidence_groups",
    "incident_participants",
    "incident_tasks",
    "incident_timeline",
    "incidents",
    "intel_objects",
    "metadata",
    "object_groups",
    "object_labels",
    "object_sources",
    "observables",
    "organisations",
    "playbook_actions",
    "playbook_cursors",
    "playbook_incidents",
    "playbook_runs",
    "sharing_groups",
    "sighting_preferences",
    "sightings",
    "sync_cursors",
    "sync_peers",
    "taxii_collections",
    "taxii_feeds",
    "taxii_statuses",
    "telemetry_retention",
    "user_passwords",
    "users",
    "web_sessions",
]

TS = String(27)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("country", String(2), nullable=True),  # ISO 3166-1 alpha-2; None for the center
    Column("kind", String(20), nullable=False),
    Column("created_at", TS, nullable=False),
    CheckConstraint("kind IN ('coordinator', 'member', 'peer')", name="kind"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("organisation_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("roles", String(200), nullable=False),  # comma-separated Role values
    Column("created_at", TS, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex; never the token
    Column("prefix", String(16), nullable=False),  # shown in listings to tell tokens apart
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=True),
    Column("revoked_at", TS, nullable=True),
)

sharing_groups = Table(
    "sharing_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("owner_org_id", ForeignKey("organisations.id"), nullable=False),
    Column("hidden_roster", Boolean, nullable=False, default=False),
    Column("created_at", TS, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ForeignKey("sharing_groups.id"), primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), primary_key=True, index=True),
)

# Ids for bulk-inserted tables are handed out in blocks: one UPDATE … RETURNING takes
# the write lock and reserves n ids, so rows and their children are inserted without a
# round trip per row (see steppe.storage.ids).
id_sequences = Table(
    "id_sequences",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("next_id", Integer, nullable=False),
)

#: ``intel_objects``' checks of its marking (see there why they are not ``IN`` lists).
_DISTRIBUTION_CHECK = (
    "distribution = 'organisation' OR distribution = 'groups'"
    " OR distribution = 'community' OR distribution = 'federation'"
)
_TLP_CHECK = (
    "tlp = 'clear' OR tlp = 'green' OR tlp = 'amber' OR tlp = 'amber+strict' OR tlp = 'red'"
)

intel_objects = Table(
    "intel_objects",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=False),
    Column("stix_id", String(300), nullable=False),
    Column("type", String(250), nullable=False),
    Column("created", TS, nullable=True),
    Column("modified", TS, nullable=False),
    Column("owner_org_id", ForeignKey("organisations.id"), nullable=False),
    Column("distribution", String(20), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("confidence", Integer, nullable=True),
    Column("valid_from", TS, nullable=True),
    Column("valid_until", TS, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("is_current", Boolean, nullable=False),  # the newest version of stix_id (per owner)
    Column("matchable", Boolean, nullable=True),  # indicators: pattern became observables
    Column("pattern_note", Text, nullable=True),  # why an indicator is not matchable
    Column("name", Text, nullable=True),
    Column("imported_at", TS, nullable=False),
    # The STIX 2.1 JSON as received; a list-feed indicator keeps only a marker its body is
    # rendered from with the row (steppe.intel.bodies: every reader goes through it).
    Column("body", Text, nullable=False),
    # Each organisation has its own copy of an id: another member cannot "update" it.
    # stix_id first, so the same index serves look-ups by id alone.
    UniqueConstraint("stix_id", "owner_org_id", "modified", name="uq_intel_objects_version"),
    # The allowed values as a chain of equalities, not ``IN (…)``: SQLite checks an IN
    # list of more than two constants through an ephemeral index, probed per row — the
    # two checks were 0.15 of the 0.40 s of CPU of ipsum's 120,430 rows, the chain's
    # comparisons ~0.01 (migration 0014, docs/benchmarks.md). The same rows pass.
    CheckConstraint(_DISTRIBUTION_CHECK, name="distribution"),
    CheckConstraint(_TLP_CHECK, name="tlp"),
    CheckConstraint(
        "NOT (tlp = 'red' AND distribution IN ('community', 'federation'))", name="red_audience"
    ),
    # No index on type or modified yet: nothing queries by them, and on the import
    # benchmark the two cost ~0.5 s per 100,000 objects. Add them with the queries.
)

object_groups = Table(
    "object_groups",
    metadata,
    Column("object_pk", ForeignKey("intel_objects.pk"), primary_key=True),
    Column("group_id", ForeignKey("sharing_groups.id"), primary_key=True, index=True),
)

object_sources = Table(
    "object_sources",
    metadata,
    Column("object_pk", ForeignKey("intel_objects.pk"), primary_key=True),
    Column("source_pk", ForeignKey("intel_objects.pk"), primary_key=True, index=True),
)

# STIX `labels` of each object, for search by tag.
object_labels = Table(
    "object_labels",
    metadata,
    Column("object_pk", ForeignKey("intel_objects.pk"), primary_key=True),
    Column("label", String(200), primary_key=True),
    Index("ix_object_labels_label", "label", "object_pk"),
)

observables = Table(
    "observables",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("object_pk", ForeignKey("intel_objects.pk"), nullable=False, index=True),
    Column("type", String(20), nullable=False),
    Column("value", Text, nullable=False),
    # Names of the MISP warninglists the value is on, "\n"-separated; NULL when none.
    Column("warninglists", Text, nullable=True),
    Index("ix_observables_value", "value", "type"),
)

# Correlation, bounded: one row per distinct (type, value) seen in an observable, and
# at most `cap` member objects per value. A value that would pass the cap is marked
# over-correlating and loses its members, so the table grows with the distinct values,
# not with their square (steppe.intel.correlation).
correlation_values = Table(
    "correlation_values",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type", String(20), nullable=False),
    Column("value", Text, nullable=False),
    Column("members", Integer, nullable=False),  # objects when last counted
    Column("over_cap", Boolean, nullable=False),
    UniqueConstraint("value", "type", name="uq_correlation_values_value"),
)

correlations = Table(
    "correlations",
    metadata,
    Column("value_id", ForeignKey("correlation_values.id"), primary_key=True),
    Column("object_pk", ForeignKey("intel_objects.pk"), primary_key=True, index=True),
)

# STIX sightings of an object (the owner's copy of a stix id): who saw it, how often,
# and whether that organisation lets itself be named (steppe.intel.sightings).
sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stix_id", String(300), nullable=False),
    Column("owner_org_id", ForeignKey("organisations.id"), nullable=False),
    Column("object_pk", ForeignKey("intel_objects.pk"), nullable=False),  # version sighted
    Column("org_id", ForeignKey("organisations.id"), nullable=False),  # who saw it
    Column("type", String(20), nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("source", Text, nullable=True),  # e.g. an alert id
    Column("named", Boolean, nullable=False),  # the sighting organisation may be named
    Column("created_at", TS, nullable=False),
    CheckConstraint("type IN ('seen', 'false-positive', 'expired')", name="type"),
    CheckConstraint("count >= 1", name="count"),
    Index("ix_sightings_object", "stix_id", "owner_org_id"),
)

# --- feeds (steppe.intel.feeds): scheduled pulls of CSV/plain/MISP/STIX/text sources.
# A feed's settings and the state of its last pull; stats and totals are JSON objects.
feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("owner_org_id", ForeignKey("organisations.id"), nullable=False),
    Column("distribution", String(20), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("format", String(20), nullable=False),
    Column("preset", String(50), nullable=True),
    Column("mapping", Text, nullable=True),  # JSON column mapping of a csv feed
    Column("url", Text, nullable=False),
    Column("every_seconds", Integer, nullable=True),  # None: pulled only when asked
    Column("enabled", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("last_pull_at", TS, nullable=True),
    Column("last_version_at", TS, nullable=True),  # `modified` of the last versions written
    Column("last_success_at", TS, nullable=True),
    Column("last_status", String(20), nullable=True),  # ok / not-modified / error
    Column("last_error", Text, nullable=True),
    Column("last_stats", Text, nullable=True),  # JSON
    Column("totals", Text, nullable=False),  # JSON
    Column("state", Text, nullable=True),  # JSON: e.g. MISP event timestamps already pulled
)

feed_groups = Table(
    "feed_groups",
    metadata,
    Column("feed_id", ForeignKey("feeds.id"), primary_key=True),
    Column("group_id", ForeignKey("sharing_groups.id"), primary_key=True),
)

# Provenance: one row per (feed, observable), keyed by the current version of the
# indicator the feed made of it (``object_pk``: moves to each new version). Who said it is
# the feed and its owner; visibility is the indicator's (visible_filter on intel_objects).
# What the version's row already holds is not repeated here: the value and its type are
# its observable's, the confidence its own, first seen its ``valid_from``, and expired
# its ``valid_until`` (steppe.intel.provenance joins them). While the entry is listed,
# its last sighting is the feed's ``last_version_at``; ``last_seen`` is written only when
# it expires (the feed's pull before). Integer keys only: two text indexes here cost
# ~0.5 s per 100,000 rows of a first pull.
feed_entries = Table(
    "feed_entries",
    metadata,
    Column("object_pk", ForeignKey("intel_objects.pk"), primary_key=True, autoincrement=False),
    Column("feed_id", ForeignKey("feeds.id"), nullable=False, index=True),
    Column("last_seen", TS, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", TS, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("object", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row: the last sequence number and hash. Appenders lock it, so the chain never
# forks under concurrent writers, and a deleted tail shows up against it.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# A POST with an Idempotency-Key is answered once: a retry with the same key and body gets
# the stored answer; the row is written in the request's own transaction.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)

# An organisation's own telemetry retention (days); organisations without a row keep
# STEPPE_LAKE_RETENTION_DAYS. The lake prunes whole day partitions past it.
telemetry_retention = Table(
    "telemetry_retention",
    metadata,
    Column("organisation_id", ForeignKey("organisations.id"), primary_key=True),
    Column("days", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
    CheckConstraint("days > 0", name="days_positive"),
)

# --- federation (TAXII 2.1 and node sync) -------------------------------------------------

# TAXII `date_added` is intel_objects.imported_at; pages are read in (imported_at, pk)
# order from the last row of the previous page, so that order needs an index.
Index("ix_intel_objects_imported_at", intel_objects.c.imported_at, intel_objects.c.pk)

# Collections an admin defines with a filter, next to the built-in audience collections.
taxii_collections = Table(
    "taxii_collections",
    metadata,
    Column("id", String(36), primary_key=True),  # a UUID: TAXII collection ids are URLs' parts
    Column("alias", String(100), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("filter", Text, nullable=False),  # JSON: types, tlp, labels, distributions, owner
    Column("created_at", TS, nullable=False),
)

# The status resource of each TAXII POST, readable only by the user who posted.
taxii_statuses = Table(
    "taxii_statuses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("collection_id", String(36), nullable=False),
    Column("request_timestamp", TS, nullable=False),
    Column("total_count", Integer, nullable=False),
    Column("success_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("pending_count", Integer, nullable=False),
    Column("details", Text, nullable=False),  # JSON: {"successes": [...], "failures": [...]}
)

# Another Steppe node (or any TAXII 2.1 server) this one syncs with, and the agreement:
# what may leave for it and how what it sends is stored here.
sync_peers = Table(
    "sync_peers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # The local organisation (kind 'peer') standing for the other node: what it sends is
    # stored as that organisation's, and its users are the accounts the node pulls with.
    Column("org_id", ForeignKey("organisations.id"), nullable=False, unique=True),
    Column("api_root", Text, nullable=False),  # URL of the peer's TAXII API root
    Column("collection", String(100), nullable=False),  # id or alias there
    Column("username", String(200), nullable=False),
    Column("token", Text, nullable=False),  # the peer's API token for us
    Column("direction", String(10), nullable=False),  # pull, push or both
    Column("tlp", String(100), nullable=False),  # comma-separated TLP levels that may leave
    Column("types", Text, nullable=False, default=""),  # comma-separated STIX types; '' = all
    Column("sightings", String(20), nullable=False),  # keep, anonymise or drop
    Column("created_at", TS, nullable=False),
    CheckConstraint("direction IN ('pull', 'push', 'both')", name="direction"),
    CheckConstraint("sightings IN ('keep', 'anonymise', 'drop')", name="sightings"),
)

# Where each direction of a sync stopped: written after every page, so a killed run
# resumes there (re-sending a page is harmless: imports are idempotent).
sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("peer_id", ForeignKey("sync_peers.id"), primary_key=True),
    Column("direction", String(10), primary_key=True),  # pull or push
    Column("next_token", Text, nullable=True),  # pull: the peer's `next` mid-run
    Column("added_after", TS, nullable=True),  # pull: date_added reached by a finished run
    Column("after_ts", TS, nullable=True),  # push: (imported_at, pk) of the last row sent
    Column("after_pk", Integer, nullable=True),
    Column("updated_at", TS, nullable=False),
)

# TAXII collections of other servers pulled on a schedule (`steppe taxii feed`), with
# where the last pull stopped.
taxii_feeds = Table(
    "taxii_feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", Text, nullable=False),  # discovery or API root
    Column("collection", String(200), nullable=False),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),  # owns what is pulled
    Column("distribution", String(20), nullable=False),
    Column("tlp", String(20), nullable=False),  # for objects without their own marking
    Column("username", String(200), nullable=True),
    Column("token", Text, nullable=False),
    Column("every_minutes", Integer, nullable=False),
    Column("next_token", Text, nullable=True),
    Column("added_after", TS, nullable=True),
    Column("last_run", TS, nullable=True),
    Column("created_at", TS, nullable=False),
)

# --- alerts (steppe.alerts): detections on a member's telemetry, owned by that member.
# One row per (indicator or rule, host, aggregation window) — or per (event, indicator
# or rule) with aggregation off; the id is a hash of those, and each event folded in is
# keyed in alert_events, so detecting the same event twice (streaming and batch, a
# re-run, a worker killed mid-batch) writes nothing new.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of (kind, event, indicator/rule)
    Column("kind", String(10), nullable=False),  # ioc or sigma
    Column("org_id", ForeignKey("organisations.id"), nullable=False),  # whose telemetry
    # No foreign key on purpose: the alert is the member's record and outlives the
    # indicator (a TAXII DELETE removes every row that references an object). A deleted
    # indicator is simply no longer named (steppe.alerts.queries).
    Column("indicator_pk", Integer, nullable=True),
    Column("indicator_stix_id", String(300), nullable=True),
    Column("rule_id", String(300), nullable=True),
    Column("title", Text, nullable=False),
    Column("field", String(100), nullable=True),  # event field that hit
    Column("observed", Text, nullable=True),  # its value
    Column("matched", Text, nullable=True),  # the indicator value it hit (a parent domain…)
    Column("match_type", String(20), nullable=True),  # observable type of that value
    Column("severity", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("event", Text, nullable=False),  # the event as evidence (JSON)
    Column("event_fingerprint", String(64), nullable=False),
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("count", Integer, nullable=False),  # events folded into it (alert_events)
    Column("created_at", TS, nullable=False),
    # Triage (steppe.alerts.triage); host is what aggregation grouped on.
    Column("host", String(300), nullable=True),
    Column("assignee_id", ForeignKey("users.id"), nullable=True),
    Column("updated_at", TS, nullable=True),
    CheckConstraint("kind IN ('ioc', 'sigma')", name="kind"),
    CheckConstraint("severity IN ('low', 'medium', 'high', 'critical')", name="severity"),
    Index("ix_alerts_org_seen", "org_id", "last_seen"),
    Index("ix_alerts_indicator", "indicator_pk"),
)

# Whether an organisation lets producers of the intel it sights learn its name.
sighting_preferences = Table(
    "sighting_preferences",
    metadata,
    Column("org_id", ForeignKey("organisations.id"), primary_key=True),
    Column("named", Boolean, nullable=False),
    Column("updated_at", TS, nullable=False),
)

# --- web UI (steppe.web): passwords for the browser login and its sessions.
# A password is a credential like an API token: kept apart from the user, only its hash.
user_passwords = Table(
    "user_passwords",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("hash", String(200), nullable=False),  # scrypt$n$r$p$salt$digest
    Column("updated_at", TS, nullable=False),
)

# One row per signed-in browser. The cookie carries a random token; only its sha256 is
# stored, so a copy of the database signs nobody in. The CSRF token is per session.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's token
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
)

# --- triage and incidents (steppe.alerts.triage, steppe.response.incidents) ---------------
# Alerts aggregate: one row per (rule or indicator, host, time window). Each event folded
# into an alert leaves its key here (the per-event id the alert had before aggregation),
# so detecting the same event again adds nothing and does not bump the count.
alert_events = Table(
    "alert_events",
    metadata,
    Column("event_key", String(64), primary_key=True),  # sha256 of (kind, event, what)
    Column("alert_id", String(64), nullable=False, index=True),
    Column("seen", TS, nullable=False),  # the event's time
)

alert_comments = Table(
    "alert_comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", ForeignKey("alerts.id"), nullable=False, index=True),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("text", Text, nullable=False),
)

# Every triage change of an alert (status, assignee, comment, incident), oldest first.
alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", ForeignKey("alerts.id"), nullable=False, index=True),
    Column("at", TS, nullable=False),
    Column("actor", String(300), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(60), primary_key=True),  # incident--<uuid4>, as a STIX 2.1 id
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("severity", String(10), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("coordinated", Boolean, nullable=False),  # coordinated by the center
    Column("owner_org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("template", String(100), nullable=True),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    CheckConstraint(
        "status IN ('open', 'investigating', 'contained', 'resolved', 'closed')", name="status"
    ),
    CheckConstraint("severity IN ('low', 'medium', 'high', 'critical')", name="severity"),
    CheckConstraint("tlp IN ('clear', 'green', 'amber', 'amber+strict', 'red')", name="tlp"),
)

incident_participants = Table(
    "incident_participants",
    metadata,
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), primary_key=True, index=True),
    Column("added_at", TS, nullable=False),
)

incident_tasks = Table(
    "incident_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ForeignKey("incidents.id"), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("assignee_org_id", ForeignKey("organisations.id"), nullable=True),
    Column("assignee_user_id", ForeignKey("users.id"), nullable=True),
    Column("status", String(20), nullable=False),
    Column("due", TS, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    CheckConstraint("status IN ('open', 'in-progress', 'done', 'cancelled')", name="status"),
)

# Append-only. The playbook engine polls it: SELECT … WHERE id > :cursor AND kind =
# 'status' ORDER BY id (docs/incidents.md, "The timeline table"). Keep the shape.
incident_timeline = Table(
    "incident_timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ForeignKey("incidents.id"), nullable=False),
    Column("at", TS, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("actor", String(300), nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
    Index("ix_incident_timeline_incident", "incident_id", "id"),
    Index("ix_incident_timeline_kind", "kind", "id"),
)

incident_comments = Table(
    "incident_comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ForeignKey("incidents.id"), nullable=False, index=True),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("text", Text, nullable=False),
)

# Evidence keeps its own rights: an alert (its organisation's telemetry), an intel object
# (by stix id, its marking), or a note with a marking of its own (owner, distribution,
# TLP and, for 'groups', incident_evidence_groups).
incident_evidence = Table(
    "incident_evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ForeignKey("incidents.id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("alert_id", ForeignKey("alerts.id"), nullable=True),
    Column("stix_id", String(300), nullable=True),
    Column("title", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("owner_org_id", ForeignKey("organisations.id"), nullable=True),
    Column("distribution", String(20), nullable=True),
    Column("tlp", String(20), nullable=True),
    Column("added_by", ForeignKey("users.id"), nullable=False),
    Column("added_at", TS, nullable=False),
    CheckConstraint("kind IN ('alert', 'intel', 'note')", name="kind"),
    UniqueConstraint("incident_id", "alert_id", name="uq_incident_evidence_alert"),
)

incident_evidence_groups = Table(
    "incident_evidence_groups",
    metadata,
    Column("evidence_id", ForeignKey("incident_evidence.id"), primary_key=True),
    Column("group_id", ForeignKey("sharing_groups.id"), primary_key=True),
)

# --- blocklists (steppe.response.blocklists): named lists of indicators an organisation
# sends to its enforcement devices. Entries name indicators by STIX id and are never
# deleted, only marked removed, so an incremental export can tell a device what left.
blocklists = Table(
    "blocklists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("org_id", "name", name="uq_blocklists_org_name"),
)

blocklist_entries = Table(
    "blocklist_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blocklist_id", ForeignKey("blocklists.id"), nullable=False),
    Column("stix_id", String(300), nullable=False),
    Column("added_at", TS, nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("removed_at", TS, nullable=True),
    Column("removed_by", String(200), nullable=True),
    Index("ix_blocklist_entries_list", "blocklist_id", "stix_id"),
)

# --- playbooks (steppe.response.playbooks): triggers → runs → actions -------------------

# Alerts are polled in (created_at, id) order from the last one a playbook has seen.
Index("ix_alerts_created", alerts.c.created_at, alerts.c.id)

# Where each playbook's trigger stopped: alerts by (created_at, id), intel by
# (imported_at, pk), the incident timeline by its id. Advanced in the same transaction
# that records the runs, so a crash neither loses a trigger nor runs it twice.
playbook_cursors = Table(
    "playbook_cursors",
    metadata,
    Column("playbook", String(200), primary_key=True),
    Column("trigger", String(20), nullable=False),  # alert, intel, incident-status
    Column("after_ts", TS, nullable=True),
    Column("after_key", String(300), nullable=True),  # alert id, or the pk/id as text
    Column("updated_at", TS, nullable=False),
)

# One run per (playbook, trigger item): the unique key is what makes a replayed trigger
# (a restart, two runners) run nothing twice.
playbook_runs = Table(
    "playbook_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("playbook", String(200), nullable=False),
    Column("owner_org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("trigger", String(20), nullable=False),
    Column("item_key", String(300), nullable=False),  # e.g. alert:<id>, intel:<pk>
    Column("item", Text, nullable=False),  # JSON: the trigger item as the playbook saw it
    Column("status", String(10), nullable=False),  # rolled up from its actions
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("playbook", "item_key", name="uq_playbook_runs_item"),
    CheckConstraint(
        "status IN ('pending', 'running', 'ok', 'failed', 'retrying', 'dead')", name="status"
    ),
)

# Each action of a run: its spec as the run saw it (no secrets: those are names of
# settings), each attempt's outcome and when the next attempt is due.
playbook_actions = Table(
    "playbook_actions",
    metadata,
    Column("run_id", ForeignKey("playbook_runs.id"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("type", String(30), nullable=False),
    Column("spec", Text, nullable=False),  # JSON
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=True),  # due time, or a running attempt's lease
    Column("last_error", Text, nullable=True),
    Column("result", Text, nullable=True),  # JSON
    Column("updated_at", TS, nullable=False),
    CheckConstraint(
        "status IN ('pending', 'running', 'ok', 'failed', 'retrying', 'dead')", name="status"
    ),
    Index("ix_playbook_actions_due", "status", "next_attempt_at"),
)

# The incident a playbook opened for a grouping key (an indicator, an organisation…), so
# that later triggers within the window extend it instead of opening another.
playbook_incidents = Table(
    "playbook_incidents",
    metadata,
    Column("playbook", String(200), primary_key=True),
    Column("group_key", String(300), primary_key=True),
    Column("incident_id", String(100), nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("last_added_at", TS, nullable=False),
)
