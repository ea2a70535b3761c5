"""Linkage that keeps running: change sets linked in with stable match IDs.

An agency sends a change set (:class:`ChangeSet`: new and corrected records,
withdrawn pseudonyms); :meth:`StandingLinkage.apply` links it against the
groups a full run made, without comparing all pairs again, and keeps each
unchanged group's match ID (the rules: :mod:`.match_ids`).
"""

from linkage.matching.standing.changes import ChangeSet
from linkage.matching.standing.files import load_standing, save_standing
from linkage.matching.standing.match_ids import Handover, IdRegistry
from linkage.matching.standing.state import RecordChange, StandingLinkage, Update

__all__ = [
    "ChangeSet",
    "Handover",
    "IdRegistry",
    "RecordChange",
    "StandingLinkage",
    "Update",
    "load_standing",
    "save_standing",
]
