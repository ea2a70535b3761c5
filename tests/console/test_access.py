"""The web console, route by route, over real HTTP (no browser): each role
sees what its token may read through the API and gets 403 or 404 for the
rest; sessions, cookies, CSRF and the security headers."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from linkage.service.console.headers import CONTENT_SECURITY_POLICY
from linkage.service.console.sessions import ConsoleSessions
from linkage.storage.base import hash_token
from tests import http_calls
from tests.console.conftest import ConsoleWorld, Session

pytestmark = pytest.mark.slow

EVERYONE = ("operator", "police", "health", "alice", "sam", "bob", "carol", "olga")


@pytest.fixture(scope="module")
def ids(console_world: ConsoleWorld) -> Iterator[dict[str, int]]:
    """The world's run and one pending reveal request of alice's."""
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('operator')}"},
    ) as operator:
        runs = operator.get(f"/projects/{console_world.project}/runs").json()
    request_id = console_world.world.request(purpose="route test")
    yield {"run": runs[0]["run_id"], "request": request_id}


@pytest.fixture(scope="module")
def sessions(console_world: ConsoleWorld) -> dict[str, Session]:
    """One logged-in session per token holder."""
    return {name: console_world.login(name) for name in EVERYONE}


def _routes(project: int, run: int, request: int) -> dict[str, set[str]]:
    """Each console page and who may read it (everyone else: 403 or 404),
    as the API's own rules say."""
    base = f"/console/projects/{project}"
    return {
        base: {"operator", "police", "health"},
        f"{base}/runs/{run}": {"operator", "police", "health"},
        f"{base}/runs/{run}/progress": {"operator", "police", "health"},
        f"{base}/reveals": {"operator", "alice", "sam", "bob", "carol"},
        f"{base}/reveals/{request}": {"operator", "alice", "bob", "carol"},
        f"{base}/reveals/{request}/statements": {"bob", "carol"},
        f"{base}/audit": {"operator", "olga"},
        f"{base}/audit/report": {"operator", "olga"},
        f"{base}/results": {"police", "health"},
    }


def test_each_route_answers_each_role_as_the_api_does(
    console_world: ConsoleWorld, ids: dict[str, int], sessions: dict[str, Session]
) -> None:
    """Every page, every role: 200 for those the API lets read it, 403 (the
    wrong role) or 404 (a request that is someone else's) for the rest."""
    routes = _routes(console_world.project, ids["run"], ids["request"])
    seen = {}
    for path, allowed in routes.items():
        for name in EVERYONE:
            status = sessions[name].get(path).status_code
            seen[(path, name)] = status
            if name in allowed:
                assert status == 200, (path, name)
            else:
                assert status in (403, 404), (path, name, status)
    # Someone else's request is missing, not forbidden: it is not theirs.
    assert seen[(f"/console/projects/{console_world.project}/reveals/"
                 f"{ids['request']}", "sam")] == 404  # fmt: skip
    assert seen[(f"/console/projects/{console_world.project}/audit", "police")] == 403


def test_another_projects_pages_are_missing_for_its_outsiders(
    console_world: ConsoleWorld, ids: dict[str, int], sessions: dict[str, Session]
) -> None:
    """A token of one project gets 404 on every page of another, as the API
    answers; the operator reaches both."""
    other = console_world.runs_project
    for path in _routes(other, ids["run"], ids["request"]):
        for name in ("police", "health", "alice", "bob", "olga"):
            assert sessions[name].get(path).status_code == 404, (path, name)
    assert sessions["operator"].get(f"/console/projects/{other}").status_code == 200


def test_refusals_are_html_pages_and_audited(
    console_world: ConsoleWorld, sessions: dict[str, Session]
) -> None:
    """A refused page is an HTML page saying why, and the refusal is in the
    audit log under the session's holder, as the API's are."""
    answer = sessions["police"].get(f"/console/projects/{console_world.project}/audit")
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "this page is for operator or oversight only" in answer.text
    denied = [
        (actor, json.loads(details)["path"])
        for actor, action, details in console_world.world.audit_actions()
        if action == "access.denied"
    ]
    assert ("party:police", f"/console/projects/{console_world.project}/audit") in (
        denied
    )


def test_without_a_session_every_page_goes_to_the_login(
    console_world: ConsoleWorld, ids: dict[str, int]
) -> None:
    """No cookie (or a made-up one): a page redirects to the login form,
    which comes back to it; a form is refused."""
    routes = _routes(console_world.project, ids["run"], ids["request"])
    with http_calls.client(base_url=console_world.url) as anonymous:
        anonymous.cookies.set("linkage_console", "made-up", path="/console")
        for path in [*routes, "/console"]:
            answer = anonymous.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/console/login?next=/console")
        refused = anonymous.post(
            f"/console/projects/{console_world.project}/reveals/{ids['request']}/deny",
            data={"csrf": "x", "reason": "no"},
        )
        assert refused.status_code == 401


def test_login_gives_a_strict_httponly_cookie_and_keeps_no_token(
    console_world: ConsoleWorld,
) -> None:
    """The session cookie is HttpOnly, SameSite=Strict and scoped to the
    console; the token appears in no answer; a bad token gets 401, a login
    form without its CSRF cookie 403."""
    token = console_world.token("bob")
    with http_calls.client(base_url=console_world.url) as browser:
        page = browser.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        bad = browser.post(
            "/console/login", data={"csrf": csrf.group(1), "token": "not-a-token"}
        )
        assert bad.status_code == 401
        assert "not valid" in bad.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', bad.text)
        assert csrf is not None
        good = browser.post(
            "/console/login", data={"csrf": csrf.group(1), "token": token}
        )
        assert good.status_code == 303
        cookie = next(
            value
            for name, value in good.headers.multi_items()
            if name == "set-cookie" and value.startswith("linkage_console=")
        )
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/console" in cookie and "Secure" not in cookie  # no TLS here
        assert token not in good.text and token not in cookie
        home = browser.get("/console", follow_redirects=True)
        assert token not in home.text
    with http_calls.client(base_url=console_world.url) as elsewhere:
        forged = elsewhere.post(
            "/console/login", data={"csrf": csrf.group(1), "token": token}
        )
        assert forged.status_code in (401, 403)


def test_every_form_needs_the_sessions_csrf_token(
    console_world: ConsoleWorld, ids: dict[str, int], sessions: dict[str, Session]
) -> None:
    """Each state change is refused (403) without this session's CSRF token,
    including another session's; nothing changes."""
    project = console_world.project
    posts = {
        "operator": [f"/console/projects/{console_world.runs_project}/runs"],
        "bob": [
            f"/console/projects/{project}/reveals/{ids['request']}/deny",
            f"/console/projects/{project}/reveals/{ids['request']}/approve",
        ],
        "olga": [f"/console/projects/{project}/audit/verify", "/console/logout"],
    }
    for name, paths in posts.items():
        client = sessions[name].client
        for path in paths:
            for csrf in ("", "wrong", sessions["alice"].csrf):
                answer = client.post(path, data={"csrf": csrf, "reason": "r"})
                assert answer.status_code == 403, (name, path, csrf)
    state = sessions["bob"].get(f"/console/projects/{project}/reveals/{ids['request']}")
    assert "pending" in state.text


def test_security_headers_and_nothing_from_outside(console_world: ConsoleWorld) -> None:
    """A strict CSP on every answer, API included; pages load only the
    service's own files; the CDN-backed Swagger UI and ReDoc are off."""
    with http_calls.client(base_url=console_world.url) as browser:
        login = browser.get("/console/login")
        health = browser.get("/health")
        for answer in (login, health):
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        sources = re.findall(r'(?:src|href)="([^"]+)"', login.text)
        assert sources and all(s.startswith(("/console", "#")) for s in sources)
        assert "<style" not in login.text and "style=" not in login.text
        assert "<script>" not in login.text
        for asset in ("/console/static/console.css", "/console/static/console.js"):
            assert browser.get(asset).status_code == 200
        assert browser.get("/docs").status_code == 404
        assert browser.get("/redoc").status_code == 404


def test_an_agency_sees_only_its_own(
    console_world: ConsoleWorld, sessions: dict[str, Session]
) -> None:
    """Police sees its own record count and results, never health's."""
    page = sessions["police"].get(f"/console/projects/{console_world.project}").text
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('operator')}"},
    ) as operator:
        runs = operator.get(f"/projects/{console_world.project}/runs").json()
    counts = runs[-1]["stats"]["records_per_party"]
    assert f"{counts['police']:,}" in page
    assert "health" not in page
    results = sessions["police"].get(
        f"/console/projects/{console_world.project}/results"
    )
    assert results.status_code == 200
    own = console_world.world.path("police-results.csv").read_text()
    assert results.text == own


def test_the_operator_never_sees_a_pseudonym(
    console_world: ConsoleWorld, ids: dict[str, int], sessions: dict[str, Session]
) -> None:
    """No page the operator can open holds a pseudonym or a result row."""
    base = f"/console/projects/{console_world.project}"
    pages = [
        sessions["operator"].get(path).text
        for path in (
            "/console",
            base,
            f"{base}/runs/{ids['run']}",
            f"{base}/reveals",
            f"{base}/reveals/{ids['request']}",
            f"{base}/audit",
            f"{base}/audit/report",
        )
    ]
    results = pd.read_csv(console_world.world.path("police-results.csv"), dtype=str)
    pseudonyms = set(results["pseudonym"])
    assert len(pseudonyms) > 10
    for page in pages:
        assert not any(p in page for p in pseudonyms)
    assert "Threshold 0.8 (fixed)" in pages[2]


def test_the_run_page_draws_the_numbers_the_api_gives(
    console_world: ConsoleWorld, ids: dict[str, int], sessions: dict[str, Session]
) -> None:
    """A run started from the console (threshold auto) is followed to its
    end; its histogram is drawn from the run's own counts and threshold (the
    numbers `linkage run status` prints), not recomputed."""
    from linkage.matching.report import histogram_svg

    project = console_world.runs_project
    started = sessions["operator"].post(f"/console/projects/{project}/runs")
    assert started.status_code == 303
    run_page = started.headers["location"]
    deadline = time.monotonic() + 120
    while True:
        progress = sessions["operator"].get(f"{run_page}/progress").json()
        if progress["state"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert progress["state"] == "completed", progress
    run_id = int(run_page.rsplit("/", 1)[1])
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('operator')}"},
    ) as operator:
        stats = operator.get(f"/projects/{project}/runs/{run_id}").json()["stats"]
    page = sessions["operator"].get(run_page)
    assert stats["histogram_counts"]
    drawn = histogram_svg(
        stats["histogram_edges"],
        stats["histogram_counts"],
        stats["threshold"],
        log=False,
    )
    assert drawn in page.text
    # The page escapes the text (an apostrophe becomes &#39;).
    assert stats["threshold_explanation"] in html.unescape(page.text)


def test_approvers_decide_in_the_console_and_the_request_becomes_a_grant(
    console_world: ConsoleWorld, sessions: dict[str, Session]
) -> None:
    """Two approvers each sign the statements offline (`linkage reveal sign`,
    their key stays home) and paste the file; the second approval issues
    health's grant. A wrong or self-made approval is refused."""
    world = console_world.world
    request_id = world.request(purpose="console approval")
    base = f"/console/projects/{console_world.project}/reveals/{request_id}"
    junk = sessions["bob"].post(f"{base}/approve", signed="{not json")
    assert junk.status_code == 422
    for approver in ("bob", "carol"):
        statements = sessions[approver].get(f"{base}/statements")
        assert statements.status_code == 200
        assert statements.headers["content-disposition"].startswith("attachment")
        assert "signing" not in statements.text  # no key material
        files = world.path(f"{approver}-{request_id}-statements.json")
        files.write_bytes(statements.content)
        signed = world.path(f"{approver}-{request_id}-approval.json")
        world.local(
            "reveal", "sign", files, "--reason", f"{approver}: basis checked",
            "--key", world.path(f"{approver}-signing.key"), "--out", signed,
        )  # fmt: skip
        if approver == "bob":
            # Signed with the wrong key (carol's): the service refuses it.
            wrong = world.path(f"bob-{request_id}-wrong.json")
            world.local(
                "reveal", "sign", files, "--reason", "x",
                "--key", world.path("carol-signing.key"), "--out", wrong,
            )  # fmt: skip
            refused = sessions["bob"].post(f"{base}/approve", signed=wrong.read_text())
            assert refused.status_code == 422
        answer = sessions[approver].post(f"{base}/approve", signed=signed.read_text())
        assert answer.status_code == 303, answer.text
    page = sessions["bob"].get(base).text
    assert "approved" in page and "issued" in page
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('health')}"},
    ) as health:
        grants = health.get(f"/projects/{console_world.project}/grants").json()
    assert request_id in [g["request_id"] for g in grants]
    # health's own page lists the grant (police, which holds none, does not).
    grant_id = next(g["grant_id"] for g in grants if g["request_id"] == request_id)
    own = sessions["health"].get(f"/console/projects/{console_world.project}").text
    assert f"<tr><td>{grant_id}</td><td>{request_id}</td><td>alice</td>" in own
    assert "linkage reveal fulfil" in own
    other = sessions["police"].get(f"/console/projects/{console_world.project}").text
    assert "Reveal grants awaiting your answer" in other
    assert "linkage reveal fulfil" not in other


def test_nobody_approves_their_own_request_in_the_console(
    console_world: ConsoleWorld,
) -> None:
    """sam asks as an investigator; as an approver, sam's page says another
    approver must decide, and the form is refused (403) as the API refuses."""
    world = console_world.world
    result = world.ok(
        "reveal", "request", "--project", str(console_world.project),
        "--match-id", world.match_id, "--party", "health", "--purpose", "own",
        "--legal-basis", "basis", token="sam",
    )  # fmt: skip
    request_id = int(result.stdout.strip())
    sam = console_world.login("sam-approver")
    base = f"/console/projects/{console_world.project}/reveals/{request_id}"
    assert "another approver must decide" in sam.get(base).text
    refused = sam.post(f"{base}/deny", reason="mine")
    assert refused.status_code == 403
    assert "nobody approves their own request" in refused.text


def test_a_denial_with_its_reason(console_world: ConsoleWorld) -> None:
    """Deny needs a reason and no signature; it ends the request."""
    world = console_world.world
    request_id = world.request(purpose="to deny")
    carol = console_world.login("carol")
    base = f"/console/projects/{console_world.project}/reveals/{request_id}"
    assert carol.post(f"{base}/deny", reason="").status_code == 422
    assert carol.post(f"{base}/deny", reason="no legal basis").status_code == 303
    alice = console_world.login("alice")
    page = alice.get(base).text
    assert "denied" in page and "no legal basis" in page


def test_oversight_sees_the_trail_report_and_verification(
    console_world: ConsoleWorld, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Oversight filters the project's entries, reads the transparency
    report, and checks the log against an earlier export, which fails once
    the export is altered."""
    world = console_world.world
    olga = console_world.login("olga")
    base = f"/console/projects/{console_world.project}/audit"
    page = olga.get(base).text
    assert "Log verified" in page
    assert "reveal.requested" in page
    filtered = olga.get(f"{base}?action=member.added").text
    assert "member.added" in filtered and "reveal.requested</code>" not in filtered
    assert olga.get(f"{base}?since=yesterday").status_code == 422
    report = olga.get(f"{base}/report").text
    assert "Requests" in report and "Per agency" in report
    export = tmp_path_factory.mktemp("export") / "audit.jsonl"
    world.ok("audit", "export", "--out", export, token="operator")
    verified = olga.post(f"{base}/verify", earlier=export.read_text())
    assert verified.status_code == 200 and "Verified:" in verified.text
    lines = export.read_text().splitlines()
    entry = json.loads(lines[3])
    entry["actor"] = "someone-else"
    lines[3] = json.dumps(entry)
    altered = olga.post(f"{base}/verify", earlier="\n".join(lines))
    assert "Does NOT verify" in altered.text
    assert "the earlier export itself does not verify" in altered.text
    assert olga.post(f"{base}/verify", earlier="nonsense").status_code == 422


def test_a_session_ends_with_its_token(console_world: ConsoleWorld) -> None:
    """Reissuing a member's token ends the sessions opened with the old one."""
    world = console_world.world
    oversight = console_world.login("olga")
    assert (
        oversight.get(f"/console/projects/{console_world.project}/audit").status_code
        == 200
    )
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('operator')}"},
    ) as operator:
        with world.database() as db:
            olga_id = int(
                db.execute(
                    "SELECT id FROM members WHERE name = ?", ("olga",)
                ).scalar_one()
            )
        new = operator.delete(
            f"/projects/{console_world.project}/members/{olga_id}/token"
        )
    assert new.status_code == 200
    world.path("olga.token").write_text(new.json()["token"] + "\n")
    after = oversight.get(f"/console/projects/{console_world.project}/audit")
    assert after.status_code == 303


def test_sessions_expire_when_idle_or_old() -> None:
    """A session ends after its idle time without use, and after its
    lifetime whatever its use; the server keeps only hashes."""
    now = [0.0]
    sessions = ConsoleSessions(idle=10, lifetime=25, clock=lambda: now[0])
    cookie, session = sessions.open(hash_token("t"))
    assert session.token_hash == hash_token("t")
    assert cookie not in repr(sessions.__dict__)
    now[0] = 9
    assert sessions.find(cookie) is session
    now[0] = 18
    assert sessions.find(cookie) is session
    now[0] = 26
    assert sessions.find(cookie) is None
    idle, _ = sessions.open(hash_token("t"))
    now[0] = 37
    assert sessions.find(idle) is None
    closed, _ = sessions.open(hash_token("t"))
    sessions.close(closed)
    assert sessions.find(closed) is None


def test_an_oversight_member_has_no_key_and_reads_no_data_over_the_api(
    console_world: ConsoleWorld,
) -> None:
    """Oversight is registered without a key (one is refused); its token
    reads neither the project, its runs, its requests nor the export over the
    API: the console's audit pages are all it has."""
    project = console_world.project
    world = console_world.world
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('operator')}"},
    ) as operator:
        keyed = operator.post(
            f"/projects/{project}/members",
            json={
                "name": "oscar",
                "role": "oversight",
                "public_key": world.path("bob-signing.key.pub").read_text(),
            },
        )
    assert keyed.status_code == 422
    assert "no key" in keyed.json()["detail"]
    refused = world.cli(
        "project", "add-member", "--project", str(project), "--name", "oscar",
        "--role", "oversight", "--public-key", world.path("bob-signing.key.pub"),
        "--token-out", world.path("oscar.token"), token="operator",
    )  # fmt: skip
    assert refused.exit_code != 0 and "no key" in refused.output
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('olga')}"},
    ) as olga:
        for path in (
            f"/projects/{project}",
            f"/projects/{project}/runs/1",
            f"/projects/{project}/reveals",
            f"/projects/{project}/grants",
            f"/projects/{project}/results",
            "/audit/export",
        ):
            assert olga.get(path).status_code == 403, path


def test_the_operator_sees_the_probabilistic_model(
    console_world: ConsoleWorld, sessions: dict[str, Session]
) -> None:
    """A probabilistic run's page shows m and u of every field and level,
    the match-weight histogram and waterfalls of the closest calls: the
    document `linkage match --model-out` writes, kept with the run."""
    project, run_id = console_world.model_run()
    run_page = f"/console/projects/{project}/runs/{run_id}"
    operator = sessions["operator"]
    page = operator.get(run_page).text
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('operator')}"},
    ) as api:
        model = api.get(f"/projects/{project}/runs/{run_id}").json()["stats"]["model"]
    assert "The probabilistic model" in page
    for level in model["levels"]:
        assert f"{level['m']:.4f}" in page and f"{level['weight']:+.2f}" in page
    assert model["closest_calls"]
    assert page.count("<title>Waterfall of pair") == len(model["closest_calls"])
    assert "Candidate pairs by match weight" in page
    status = console_world.world.ok(
        "run", "status", "--project", str(project), "--run", str(run_id),
        token="operator",
    )  # fmt: skip
    levels, fields = len(model["levels"]), len(model["fields"])
    assert f"stats.model: {levels} levels of {fields} fields" in status.stdout


def test_what_users_write_is_shown_as_text(
    console_world: ConsoleWorld, sessions: dict[str, Session]
) -> None:
    """Markup in a request's purpose is escaped on the approver's pages (and
    the CSP would stop an inline script anyway)."""
    request_id = console_world.world.request(purpose="<script>alert(1)</script>")
    base = f"/console/projects/{console_world.project}/reveals"
    for path in (base, f"{base}/{request_id}"):
        page = sessions["bob"].get(path).text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_commands_the_console_shows_exist(
    console_world: ConsoleWorld, ids: dict[str, int], sessions: dict[str, Session]
) -> None:
    """Every `linkage ...` command line a page tells someone to run names a
    real command and only options that command takes."""
    import click

    from linkage.cli import main

    base = f"/console/projects/{console_world.project}"
    pages = [
        sessions["bob"].get(f"{base}/reveals/{ids['request']}").text,
        sessions["alice"].get(f"{base}/reveals").text,
        sessions["alice"].get(f"{base}/reveals/{ids['request']}").text,
        sessions["police"].get(base).text,
        sessions["health"].get(base).text,
    ]
    with http_calls.client(
        base_url=console_world.url,
        headers={"Authorization": f"Bearer {console_world.token('alice')}"},
    ) as alice:
        requests = alice.get(f"/projects/{console_world.project}/reveals").json()
    pages += [  # where `linkage reveal open` is shown
        sessions["alice"].get(f"{base}/reveals/{r['request_id']}").text
        for r in requests
        if r["state"] == "approved"
    ][:1]
    shown = [
        line
        for page in pages
        for line in re.findall(r"<code>(linkage [^<]+)</code>", page)
        if " --" in line
    ]
    assert len(shown) >= 4, shown
    for line in shown:
        words = line.replace("&#34;", '"').split()[1:]
        command: click.Command = main
        while isinstance(command, click.Group):
            # linkage loads its commands lazily: ask the group for each one.
            found = command.get_command(click.Context(command), words.pop(0))
            assert found is not None, line
            command = found
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        used = {w for w in words if w.startswith("--")}
        assert used <= options, (line, used - options)
