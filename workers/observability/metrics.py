"""Every Prometheus metric the workers export, in one place so names stay consistent."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# A ``_created`` series per counter and histogram only doubles the series Prometheus stores; the
# process start time already says when the counts began.
disable_created_metrics()  # type: ignore[no-untyped-call]

RECORDS_IN = Counter(
    "pulse_records_in_total",
    "Row changes consumed or read, by component and table.",
    ["component", "table"],
)
RECORDS_OUT = Counter(
    "pulse_records_out_total",
    "Records published, by component, topic kind and update type.",
    ["component", "topic", "type"],
)
DEDUP_HITS = Counter(
    "pulse_dedup_hits_total", "Changes dropped as re-deliveries of a seen event ID."
)
REJECTS = Counter(
    "pulse_rejects_total", "Records sent to quarantine, by stage and reason.", ["stage", "reason"]
)
COMMIT_TO_PUBLISH = Histogram(
    "pulse_commit_to_publish_seconds",
    "From the Postgres commit to the record's publication, by component.",
    ["component"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "pulse_consumer_lag_records",
    "Records between the worker's position and the partition's end offset.",
    ["topic", "partition"],
)
SLOT_LAG_BYTES = Gauge(
    "pulse_replication_slot_lag_bytes",
    "WAL bytes between the server's current position and the slot's confirmed flush LSN.",
    ["slot"],
)
REALTIME_STATE = Gauge(
    "pulse_realtime_connection_state",
    "1 for the Realtime channel's current state, 0 for the others.",
    ["state"],
)
SOURCE_LIVE = Gauge("pulse_source_live", "1 while the ingest source is live, else 0.", ["source"])
READINESS = Gauge(
    "pulse_readiness_condition", "1 while the named readiness condition holds.", ["condition"]
)
REALTIME_REBUILDS = Counter(
    "pulse_realtime_client_rebuilds_total",
    "Realtime clients closed and rebuilt on a new topic, by reason.",
    ["reason"],
)
REALTIME_CATCHUP_ROWS = Counter(
    "pulse_realtime_catchup_rows_total",
    "Rows read by the Realtime source's catch-up, by table and outcome (published or skipped).",
    ["table", "outcome"],
)
DEDUP_TABLE_SIZE = Gauge(
    "pulse_dedup_table_ids",
    "Event IDs held in the stream worker's dedup table after the last purge, by partition.",
    ["partition"],
)
STALE_CHANGES = Counter(
    "pulse_stale_changes_total", "Changes older than the row state the stream already holds."
)
SOURCE_REFETCHES = Counter(
    "pulse_source_refetches_total",
    "Source partitions sought back because records fetched for them never reached the agent.",
)
COMMITS = Counter(
    "pulse_commits_total",
    "Units of work the stream worker made durable: a partition's batch, chart refresh or dedup "
    "purge, each one Kafka transaction with exactly-once on.",
)
FENCED_COMMITS = Counter(
    "pulse_fenced_commits_total",
    "Commits refused because another worker's producer fenced this one's; the work is left "
    "uncommitted to the partition's owner.",
)
SOURCE_REDELIVERIES = Counter(
    "pulse_source_redeliveries_total",
    "Source messages delivered again below the offset this worker had committed; skipped.",
)
CHANGELOG_EVENTS_SKIPPED = Counter(
    "pulse_changelog_events_skipped_total",
    "Changelog records Faust's restore or standby service would have applied to a store the "
    "worker writes itself; skipped.",
)
STORE_REPAIRS = Counter(
    "pulse_store_repairs_total",
    "Table stores found behind their committed changelog before a batch, and brought up to date.",
    ["table", "found"],
)
SOURCE_REREADS = Counter(
    "pulse_source_rereads_total",
    "Source messages Faust's consumer skipped that the stream worker read directly.",
)
RECONNECTS = Counter(
    "pulse_reconnects_total",
    "Links to a dependency re-established in-process after it was lost, by component and dependency.",
    ["component", "dependency"],
)
DEPENDENCY_UP = Gauge(
    "pulse_dependency_up",
    "1 while the component's link to the dependency works, 0 while it is reconnecting.",
    ["component", "dependency"],
)
GATEWAY_CLIENTS = Gauge(
    "pulse_gateway_clients",
    "SSE clients connected to the gateway, by site bucket (a hash of the site id into 16).",
    ["site_bucket"],
)
GATEWAY_MESSAGES = Counter(
    "pulse_gateway_messages_total", "Updates queued to SSE clients (one per client per update)."
)
GATEWAY_CLOSED = Counter(
    "pulse_gateway_streams_closed_total",
    "SSE streams ended, by reason (slow_client, auth_expired, access_revoked, client_gone, "
    "shutdown).",
    ["reason"],
)
GATEWAY_AUTH_FAILURES = Counter(
    "pulse_gateway_auth_failures_total",
    "Stream requests refused (401/403/503), by reason.",
    ["reason"],
)
GATEWAY_REPLAY_DEPTH = Histogram(
    "pulse_gateway_replay_depth_updates",
    "Updates replayed to a client that resumed by Last-Event-ID.",
    buckets=(0, 1, 5, 10, 50, 100, 250, 500, 1000),
)
GATEWAY_RESETS = Counter(
    "pulse_gateway_resets_total",
    "Resumes from a position no longer held, answered with reset and a snapshot.",
)
GATEWAY_SKIPPED_UPDATES = Counter(
    "pulse_gateway_skipped_updates_total",
    "Records of dashboard_updates not streamed, by reason (invalid, key_mismatch, not_newer).",
    ["reason"],
)
