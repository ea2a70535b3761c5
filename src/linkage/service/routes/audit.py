"""The service's public key, and the audit log export for oversight bodies."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from linkage.audit.chain import format_time
from linkage.audit.export import AuditExport, export_lines
from linkage.reveal.keys import key_id, public_pem
from linkage.service.deps import AuditDep, Operator, StoreDep
from linkage.service.models import ServiceKeyPublic

router = APIRouter(tags=["audit"])


@router.get("/service-key")
def service_key(request: Request) -> ServiceKeyPublic:
    """The service's Ed25519 public key: agencies pin it to check grants, and
    oversight bodies to check the audit log. Compare its key ID with the
    operator's by another channel before pinning it."""
    public_key = request.app.state.signing_key.public_key()
    return ServiceKeyPublic(
        public_key=public_pem(public_key), key_id=key_id(public_key)
    )


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export_audit(
    request: Request, operator: Operator, store: StoreDep, audit: AuditDep
) -> StreamingResponse:
    """The whole audit log as JSON Lines, with its signed heads (operator only).

    Check it offline with `linkage audit verify FILE --service-key KEY`.
    """
    audit.append(actor=operator.actor, action="audit.exported")
    # One snapshot: the entries and heads are read before the answer starts.
    entries, heads = audit.read()
    snapshot = AuditExport(
        exported_at=format_time(store.now()),
        service_key_id=key_id(request.app.state.signing_key.public_key()),
        entries=tuple(entries),
        heads=tuple(heads),
    )

    def lines() -> Iterator[bytes]:
        for line in export_lines(snapshot):
            yield line.encode("utf-8")

    return StreamingResponse(lines(), media_type="application/x-ndjson")
