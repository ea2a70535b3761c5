"""Property-based fuzzing of the service's OpenAPI schema with schemathesis.

The schema is loaded from the ASGI app in process. For every operation,
schemathesis generates valid (positive) and malformed (negative) requests.
Each is sent with the token of one role (operator, party, investigator,
approver) and with its path as generated (mostly missing projects), aimed at
a real project, or at the party itself; hypothesis draws the role and the
path variant with the request.
Whatever the input, the answer is never a 5xx, and every 4xx is an RFC 9457
problem+json body.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from linkage.reveal.keys import public_pem
from linkage.service import Settings, create_app, initialise
from linkage.storage import Store
from tests.conftest import database_for

# Examples per operation and generation mode. Each is sent once, with a role
# and a path variant that hypothesis draws too (so a failure shrinks to one
# role and variant). Sending each of 25 examples in all twelve combinations
# took four minutes of the suite. With 40 and with 15 examples, the lines and
# branches of the service, storage, reveal and audit code the fuzzing reached
# differed more between two runs of one size than between the sizes
# (coverage.py, 3,309-3,323 lines); 20 takes a tenth of the suite's time less.
MAX_EXAMPLES = 20
ROLES = ("operator", "party", "investigator", "approver")
PARTY = "police"


@dataclass(frozen=True)
class Fuzzed:
    """The loaded schema, a real project in the app, and the tokens to send."""

    schema: Any
    project_id: int
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    """The app on SQLite and then on PostgreSQL, with a project and members."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    database_url = database_for(request)
    operator = initialise(data_dir, database_url=database_url).read_text().strip()
    app = create_app(
        Settings(
            data_dir=data_dir, database_url=database_url, max_upload_bytes=64 * 1024
        )
    )
    store: Store = app.state.store
    created = store.create_project(
        name="fuzzed",
        schema_fingerprint="a" * 64,
        threshold="auto",
        mode="link",
        parties=(PARTY, "health"),
    )
    public_key = X25519PrivateKey.generate().public_key()
    _, investigator = store.add_member(
        project_id=created.project.id,
        name="ivy",
        role="investigator",
        public_key=public_pem(public_key),
    )
    _, approver = store.add_member(
        project_id=created.project.id,
        name="abe",
        role="approver",
        public_key=public_pem(Ed25519PrivateKey.generate().public_key()),
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan(app))
    try:
        yield Fuzzed(
            schema,
            created.project.id,
            {
                "operator": operator,
                "party": created.party_tokens[PARTY],
                "investigator": investigator,
                "approver": approver,
            },
        )
    finally:
        store.close()


def _without_lifespan(app: Any) -> Any:
    """``app`` with its lifespan answered but not run.

    The test client starts and ends the lifespan around every request, which
    would start the run worker each time; the fuzzing needs no worker (a run
    it queues just stays queued).
    """

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


def _check_problem(response: Any) -> None:
    status = response.status_code
    assert status < 500, f"{status}: {response.text}"
    if 400 <= status < 500:
        content_type = response.headers.get("content-type", "")
        if isinstance(content_type, list):
            content_type = content_type[0]
        assert content_type.startswith("application/problem+json"), (
            f"{status} with {content_type!r}: {response.text}"
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str
)
def test_no_input_makes_a_server_error(fuzzed: Fuzzed, mode: GenerationMode) -> None:
    """No 5xx, and every 4xx is problem+json, for every role and operation."""
    # /ready tells the truth about this harness, which runs no worker: 503.
    operations = [
        operation
        for operation in (r.ok() for r in fuzzed.schema.get_all_operations())
        if operation.path != "/ready"
    ]
    assert len(operations) >= 8

    def send(case: Any, role: str, variant: int) -> None:
        generated = dict(case.path_parameters or {})
        variants = [generated]
        if "project_id" in generated:
            real = {**generated, "project_id": fuzzed.project_id}
            variants.append(real)
            if "party" in generated:
                variants.append({**real, "party": PARTY})
        case.path_parameters = variants[variant % len(variants)]
        token = fuzzed.tokens[role]
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=[not_a_server_error])
        _check_problem(response)
        if (
            case.method.upper() == "DELETE"
            and response.status_code == 200
            # Not every DELETE reissues a token (one deletes encodings).
            and response.json().get("party") == PARTY
            and response.json()["project_id"] == fuzzed.project_id
        ):
            # The fuzzer revoked our party's token: use the new one.
            fuzzed.tokens["party"] = response.json()["token"]

    for operation in operations:

        @given(
            case=operation.as_strategy(generation_mode=mode),
            role=st.sampled_from(ROLES),
            # As generated, aimed at the real project, and at the party itself.
            variant=st.integers(min_value=0, max_value=2),
        )
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any, role: str, variant: int) -> None:
            send(case, role, variant)

        try:
            fuzz()
        except Unsatisfiable:
            # Nothing in the operation can be malformed (GET /health).
            if mode is not GenerationMode.NEGATIVE:
                raise
        except Exception as error:
            error.add_note(f"operation: {operation.label}, mode: {mode}")
            raise
