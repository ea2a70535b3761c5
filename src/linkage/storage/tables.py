"""The service's tables, in portable SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "audit_entries",
    "audit_heads",
    "audit_state",
    "change_sets",
    "members",
    "metadata",
    "parties",
    "projects",
    "reveal_decisions",
    "reveal_requests",
    "reveal_targets",
    "run_results",
    "runs",
    "tokens",
    "uploads",
]

metadata = sa.MetaData()

_timestamp = sa.DateTime(timezone=True)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("schema_fingerprint", sa.String(64), nullable=False),
    sa.Column("threshold", sa.String(32), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("method", sa.String(16), nullable=False, default="clk"),
    sa.Column("allow_clkhash_json", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", _timestamp, nullable=False),
    # False (the default): the encodings are deleted once the latest run has
    # completed and every party has downloaded its results. Encodings plus a
    # few known identities decode everyone else, so keeping them is opt-in.
    sa.Column("retain_encodings", sa.Boolean, nullable=False, default=False),
    # Set when the project's encodings were deleted; from then on no upload or
    # run is accepted, and startup removes any file left in its folder.
    sa.Column("encodings_deleted_at", _timestamp, nullable=True),
    # The completed run after whose last download they were deleted; null when
    # the operator deleted them.
    sa.Column("encodings_deleted_after_run", sa.Integer, nullable=True),
)

parties = sa.Table(
    "parties",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.UniqueConstraint("project_id", "name"),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    # One person may hold both roles; the name is what self-approval checks.
    sa.Column("name", sa.String(64), nullable=False),
    # investigator or approver.
    sa.Column("role", sa.String(16), nullable=False),
    # The member's public key (PEM): an investigator's X25519 key, which
    # identities are sealed to, or an approver's Ed25519 key, which signs their
    # approvals. (Null only in databases from before approvals were signed.)
    sa.Column("public_key", sa.Text, nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.UniqueConstraint("project_id", "name", "role"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=True),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=True),
    sa.Column("member_id", sa.ForeignKey("members.id"), nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("revoked_at", _timestamp, nullable=True),
    # After this the token gets the same 401 as an unknown one (null: never).
    sa.Column("expires_at", _timestamp, nullable=True),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("bit_length", sa.Integer, nullable=False),
    # Null for clkhash JSON, which carries no header.
    sa.Column("key_check", sa.String(64), nullable=True),
    sa.Column("schema_fingerprint", sa.String(64), nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("superseded", sa.Boolean, nullable=False, default=False),
    # Set when the encodings file was deleted (its path is then emptied). The
    # row stays: it holds counts only, and run_results refer to it.
    sa.Column("deleted_at", _timestamp, nullable=True),
    sa.UniqueConstraint("project_id", "party_id", "version"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    # queued, running, completed or failed.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    # Aggregate figures as JSON text; never a pseudonym.
    sa.Column("stats", sa.Text, nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("started_at", _timestamp, nullable=True),
    sa.Column("finished_at", _timestamp, nullable=True),
    # Relative to the data folder; set when the run starts.
    sa.Column("result_dir", sa.String(1024), nullable=True),
    # full (every party's current upload linked from scratch) or update (the
    # staged change sets linked into the latest completed run's groups).
    sa.Column(
        "kind", sa.String(16), nullable=False, default="full", server_default="full"
    ),
    sa.Index("ix_runs_project_state", "project_id", "state"),
)

run_results = sa.Table(
    "run_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=False),
    # The upload the party's records came from, and its results file
    # (relative to the data folder).
    sa.Column("upload_id", sa.ForeignKey("uploads.id"), nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    # When the party first downloaded this file: once every party of the run
    # has, the project's encodings may be deleted.
    sa.Column("downloaded_at", _timestamp, nullable=True),
    sa.UniqueConstraint("run_id", "party_id"),
)

# One agency's change set: staged (run_id null) until an update run links it
# in and records its id here, in the transaction that completes the run.
change_sets = sa.Table(
    "change_sets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=False),
    # The new and corrected records, an encodings file (relative to the data
    # folder); null when the agency only withdraws. Emptied when the
    # project's encodings are deleted.
    sa.Column("path", sa.String(1024), nullable=True),
    sa.Column("record_count", sa.Integer, nullable=False),
    # The pseudonyms withdrawn (JSON list): the service's own results name
    # them already; reveals of them are refused from now on.
    sa.Column("withdrawn", sa.Text, nullable=False),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("updated_at", _timestamp, nullable=False),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=True),
    sa.Index("ix_change_sets_project_run", "project_id", "run_id"),
)

reveal_requests = sa.Table(
    "reveal_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("match_id", sa.String(64), nullable=False),
    sa.Column("investigator_id", sa.ForeignKey("members.id"), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("case_reference", sa.Text, nullable=True),
    # The investigator's raw X25519 key (base64url) when the request was made:
    # what approvers sign and grants name, whatever happens to the member row.
    sa.Column("investigator_key", sa.Text, nullable=True),
    # pending, approved or denied.
    sa.Column("state", sa.String(16), nullable=False),
    # The policy in force when the request was made (JSON): a later change of
    # policy does not move the goalposts of a pending request.
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("decided_at", _timestamp, nullable=True),
)

reveal_decisions = sa.Table(
    "reveal_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("request_id", sa.ForeignKey("reveal_requests.id"), nullable=False),
    sa.Column("member_id", sa.ForeignKey("members.id"), nullable=False),
    # approve or deny.
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    # An approval's signed statements, one per agency (JSON list of
    # {"party", "payload", "signature"}); agencies check them, not the service.
    sa.Column("approvals", sa.Text, nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.UniqueConstraint("request_id", "member_id"),
)

# One row per agency a request names; its id is the grant's id.
reveal_targets = sa.Table(
    "reveal_targets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("request_id", sa.ForeignKey("reveal_requests.id"), nullable=False),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=False),
    # The party's pseudonyms in the match (JSON list): the operator's own
    # results, never an identity.
    sa.Column("pseudonyms", sa.Text, nullable=False),
    # awaiting (approval), issued, fulfilled, refused, withdrawn (denied) or
    # empty (approved, but the agency holds no record in the match).
    sa.Column("state", sa.String(16), nullable=False),
    # The signed grant, once issued.
    sa.Column("grant_payload", sa.LargeBinary, nullable=True),
    sa.Column("grant_signature", sa.LargeBinary, nullable=True),
    sa.Column("expires_at", _timestamp, nullable=True),
    # The sealed disclosure (JSON envelope); only the investigator can open it.
    sa.Column("sealed", sa.Text, nullable=True),
    sa.Column("refusal_reason", sa.Text, nullable=True),
    sa.Column("answered_at", _timestamp, nullable=True),
    sa.UniqueConstraint("request_id", "party_id"),
)

# The audit log: append-only, each entry hashing the one before it.
audit_entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("project_id", sa.Integer, nullable=True),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)

# Every head the service signed: (seq, hash) of the last entry at the time.
audit_heads = sa.Table(
    "audit_heads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signed_at", sa.String(32), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)

# One row (id 1): the chain's last entry. Appends lock it, so two writers on
# PostgreSQL take turns instead of both extending the same entry.
audit_state = sa.Table(
    "audit_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
