"""A tamper-evident audit log: hash chain, signed heads, exports, reports.

Design
------
Every event (a project created, a reveal requested, a failed login) becomes an
:class:`AuditEntry` numbered 1, 2, 3, ... whose ``hash`` is the SHA-256 of its
own contents *and* of the previous entry's hash (:func:`next_entry`). Changing
any entry therefore changes its hash, which no longer matches the copy stored
in the entry after it.

A chain alone is not enough: someone who edits entry 17 can recompute the
hashes of 17, 18, 19, ... and the chain is consistent again. So the service
periodically signs the hash of its newest entry with its Ed25519 key
(:func:`sign_head`). A :class:`SignedHead` vouches for that entry and, through
the chain, for every entry before it.

What :func:`verify_log` detects
-------------------------------
- an entry changed in place ("changed");
- an entry replaced with a consistently re-hashed one, or one inserted with
  renumbering (the chain breaks at the next entry: "changed");
- entries removed from the middle ("removed") or from the end after a signed
  head ("head-mismatch");
- entries shuffled ("reordered") or duplicated ("inserted");
- heads not made with the service key ("bad-signature") or that disagree with
  the entries ("head-mismatch");
- entries added or rewritten after the newest signed head ("unsigned").

The limit
---------
Whoever holds *both* the service key and the database can throw the log away
and write a new, perfectly consistent one from scratch, with fresh signatures.
Nothing inside the service can prevent that. What makes it detectable is an
outside copy: exports (:func:`write_export`) handed to an oversight body,
whose signed heads fix what the log said at that time. A later export whose
entries do not extend the earlier one, entry for entry and hash for hash,
shows the history was rewritten. Hand exports over regularly, and keep the
service key away from the people the log is meant to watch.
"""

from __future__ import annotations

from linkage.audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    AuditFormatError,
    AuditProblem,
    ProblemKind,
    SignedHead,
    Verification,
    entry_hash,
    format_time,
    head_message,
    next_entry,
    parse_time,
    sign_head,
    verify_extends,
    verify_log,
)
from linkage.audit.export import (
    AuditExport,
    export_lines,
    parse_export_lines,
    read_export,
    write_export,
)
from linkage.audit.report import (
    AgencyCounts,
    PurposeCounts,
    ReportTotals,
    TransparencyReport,
    transparency_report,
)

__all__ = [
    "GENESIS_HASH",
    "AgencyCounts",
    "AuditEntry",
    "AuditExport",
    "AuditFormatError",
    "AuditProblem",
    "ProblemKind",
    "PurposeCounts",
    "ReportTotals",
    "SignedHead",
    "TransparencyReport",
    "Verification",
    "entry_hash",
    "export_lines",
    "format_time",
    "head_message",
    "next_entry",
    "parse_export_lines",
    "parse_time",
    "read_export",
    "sign_head",
    "transparency_report",
    "verify_extends",
    "verify_log",
    "write_export",
]
