"""A linkage world for the web console's tests, and a browser-less session.

The world is the reveal tests' (:mod:`tests.reveal.world`: two agencies
linked through a real service on loopback, an investigator, approvers, keys
and trust files, all made through the CLI), plus an oversight member and a
second project that keeps its encodings, so a run can be started again from
the console and a token of one project can be tried on another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from linkage.reveal.policy import DEFAULT_POLICY
from tests import http_calls
from tests.conftest import CONFIGS, RunCli
from tests.reveal.world import SCHEMA, World, build_world

# Each token file of the world, by the role the console shows it as.
ROLES = {
    "operator": "operator",
    "police": "party",
    "health": "party",
    "alice": "investigator",
    "bob": "approver",
    "carol": "approver",
    "sam-approver": "approver",
    "olga": "oversight",
}


@dataclass
class ConsoleWorld:
    """The world, and the second project (which keeps its encodings)."""

    world: World
    runs_project: int
    opened: list[Session]
    _model_run: tuple[int, int] | None = None

    @property
    def url(self) -> str:
        return self.world.url

    @property
    def project(self) -> int:
        return self.world.project_id

    def token(self, name: str) -> str:
        """The token of ``name`` (``operator``, ``police``, ``bob``, ...)."""
        return self.world.path(f"{name}.token").read_text().strip()

    def model_run(self) -> tuple[int, int]:
        """A third project, probabilistic (hardened field groups), with one
        completed run: its project and run IDs (made once)."""
        if self._model_run is None:
            self._model_run = _make_model_run(self.world)
        return self._model_run

    def login(self, name: str) -> Session:
        """A logged-in console session for ``name``, without a browser
        (closed when the world ends)."""
        session = Session.open(self.url, self.token(name))
        self.opened.append(session)
        return session


@pytest.fixture(scope="package")
def console_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    """One world for the console's tests, on SQLite."""
    root = tmp_path_factory.mktemp("console")
    with build_world(RunCli(), root, DEFAULT_POLICY) as world:
        world.ok(
            "project", "add-member", "--project", str(world.project_id),
            "--name", "olga", "--role", "oversight",
            "--token-out", world.path("olga.token"), token="operator",
        )  # fmt: skip
        created = world.ok(
            "project", "create", "console-runs", "--schema", SCHEMA,
            "--party", "police", "--party", "health", "--threshold", "auto",
            "--keep-encodings", "--tokens-dir", world.path("runs-tokens"),
            token="operator",
        )  # fmt: skip
        runs_project = int(created.stdout.strip())
        for agency in ("police", "health"):
            world.run_cli(
                "upload", world.path(f"{agency}.lnk"), "--project", str(runs_project),
                "--party", agency, "--server", world.url,
                "--token-file", world.path(f"runs-tokens/{agency}.token"),
            )  # fmt: skip
        built = ConsoleWorld(world, runs_project, [])
        try:
            yield built
        finally:
            for session in built.opened:
                session.client.close()


def _make_model_run(world: World) -> tuple[int, int]:
    schema = CONFIGS / "schemas" / "demo-groups.json"
    for agency in ("police", "health"):
        world.local(
            "encode", world.path(f"data/{agency}.csv"), "--schema", schema,
            "--mapping", CONFIGS / "mappings" / f"{agency}.yaml",
            "--secret-file", world.path("secret.key"),
            "--out", world.path(f"{agency}-groups.lnk"), "--party", agency,
        )  # fmt: skip
    created = world.ok(
        "project", "create", "console-model", "--schema", schema,
        "--party", "police", "--party", "health", "--method", "probabilistic",
        "--tokens-dir", world.path("model-tokens"), token="operator",
    )  # fmt: skip
    project = int(created.stdout.strip())
    for agency in ("police", "health"):
        token = world.path(f"model-tokens/{agency}.token")
        world.ok(
            "upload", world.path(f"{agency}-groups.lnk"), "--project", str(project),
            "--party", agency, "--token-file", token,
        )  # fmt: skip
    started = world.ok("run", "start", "--project", str(project), token="operator")
    run_id = started.stdout.strip()
    world.ok(
        "run", "wait", "--project", str(project), "--run", run_id,
        "--poll", "0.2", "--timeout", "300", token="operator",
    )  # fmt: skip
    return project, int(run_id)


class Session:
    """A browser's session without the browser: its cookie and CSRF token."""

    def __init__(self, client: httpx.Client, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    @classmethod
    def open(cls, url: str, token: str) -> Session:
        """Log in through the login form, as a browser does."""
        client = http_calls.client(base_url=url, timeout=30)
        try:
            return cls._log_in(client, token)
        except BaseException:
            client.close()
            raise

    @classmethod
    def _log_in(cls, client: httpx.Client, token: str) -> Session:
        form = client.get("/console/login")
        login_csrf = form_csrf(form.text)
        answer = client.post(
            "/console/login", data={"csrf": login_csrf, "token": token}
        )
        assert answer.status_code == 303, answer.text
        home = client.get("/console", follow_redirects=True)
        assert home.status_code == 200, home.text
        return cls(client, form_csrf(home.text))

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def post(self, path: str, **fields: str) -> httpx.Response:
        """Send a form with this session's CSRF token."""
        return self.client.post(path, data={"csrf": self.csrf, **fields})


def form_csrf(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)
