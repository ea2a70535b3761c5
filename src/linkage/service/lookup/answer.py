"""What a lookup answers, shaped by the lookup policy.

The answer for each submitted record holds, by default:

* ``known``: a linked record scores at or above the run's threshold;
* ``match_id``: the group it belongs to (opaque; what an investigator names
  in a reveal request), or None;
* ``own_pseudonyms``: the asking agency's own pseudonyms in that group, which
  it resolves from its vault;
* ``known_elsewhere``: whether another agency holds a record in that group.

Never another agency's pseudonyms, a score, or how many records another
agency holds; the other agencies' names only where the policy's
``show_agencies`` allows. The yes/no is what a lookup is for: anything more
would make it an oracle for what other agencies hold, and the match ID is
enough to ask for more through a reveal, which needs approvals.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from linkage.service.lookup.index import Found
from linkage.service.lookup.policy import LookupPolicy

__all__ = ["LookupAnswer", "LookupRecordAnswer", "answer"]


class LookupRecordAnswer(BaseModel):
    """What one submitted record matched, as the asking agency may see it."""

    record: int = Field(description="The record's position in the submitted file.")
    pseudonym: str = Field(
        description="The submitted record's own pseudonym, as in the file."
    )
    known: bool
    match_id: str | None
    own_pseudonyms: list[str]
    known_elsewhere: bool
    agencies: list[str] | None = Field(
        default=None,
        description="The other agencies holding the person; only where the "
        "lookup policy's show_agencies allows it.",
    )


class LookupAnswer(BaseModel):
    """The answers for every submitted record, from one completed run."""

    project_id: int
    run_id: int
    results: list[LookupRecordAnswer]


def answer(
    project_id: int,
    run_id: int,
    pseudonyms: list[str],
    found: list[Found],
    policy: LookupPolicy,
) -> LookupAnswer:
    """The answer the policy allows for what each submitted record matched."""
    return LookupAnswer(
        project_id=project_id,
        run_id=run_id,
        results=[
            LookupRecordAnswer(
                record=number,
                pseudonym=pseudonym,
                known=item.known,
                match_id=item.match_id,
                own_pseudonyms=list(item.own),
                known_elsewhere=bool(item.others),
                agencies=list(item.others) if policy.show_agencies else None,
            )
            for number, (pseudonym, item) in enumerate(
                zip(pseudonyms, found, strict=True)
            )
        ],
    )
