"""Projects and their parties.

One part of :class:`~linkage.storage.store.Store`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from linkage.storage.base import (
    METHODS,
    MODES,
    ConflictError,
    StoreBase,
    _check_threshold,
)
from linkage.storage.records import (
    CreatedProject,
    Method,
    Mode,
    Party,
    Project,
)
from linkage.storage.sql import insert_row, only_row
from linkage.storage.tables import (
    parties,
    projects,
)


class ProjectsMixin(StoreBase):
    """Projects and their parties."""

    def create_project(
        self,
        *,
        name: str,
        schema_fingerprint: str,
        threshold: str | float,
        mode: Mode,
        parties: Sequence[str] = (),
        allow_clkhash_json: bool = False,
        retain_encodings: bool = False,
        method: Method = "clk",
    ) -> CreatedProject:
        """Create a project with its parties and one party token each.

        With ``retain_encodings`` False (the default) the project's encodings
        are to be deleted once its latest run has completed and every party
        has downloaded its results (see :meth:`encodings_due_for_deletion`).

        Raises:
            ValueError: ``threshold`` or ``mode`` is invalid, or a party name
                is repeated.
            ConflictError: a project called ``name`` exists.
        """
        if mode not in MODES:
            raise ValueError(f"'mode' must be in {sorted(MODES)} (got {mode!r})")
        if method not in METHODS:
            raise ValueError(f"'method' must be in {sorted(METHODS)} (got {method!r})")
        stored_threshold = _check_threshold(threshold)
        if len(set(parties)) != len(parties):
            raise ValueError(f"party names must be unique (got {list(parties)!r})")
        with self.transaction() as connection:
            if connection.scalar(
                sa.select(projects.c.id).where(projects.c.name == name)
            ):
                raise ConflictError(f"a project called {name!r} already exists")
            values = {
                "name": name,
                "schema_fingerprint": schema_fingerprint,
                "threshold": stored_threshold,
                "mode": mode,
                "method": method,
                "allow_clkhash_json": allow_clkhash_json,
                "created_at": self._clock(),
                "retain_encodings": retain_encodings,
            }
            project_id = insert_row(connection, projects, values)
            made = [self._add_party(connection, project_id, party) for party in parties]
            party_tokens = {
                party.name: self._create_token(
                    connection, "party", project_id, party.id
                )
                for party in made
            }
            project = self._project(connection, project_id)
        return CreatedProject(project, tuple(made), party_tokens)

    def get_project(self, *, project_id: int) -> Project:
        """Return the project.

        Raises:
            NotFoundError: there is no such project.
        """
        with self.reading() as connection:
            return self._project(connection, project_id)

    def list_projects(self) -> list[Project]:
        """Return every project, newest first (what the operator's console
        lists)."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(projects).order_by(projects.c.id.desc())
            )
            return [Project.from_row(row) for row in rows.mappings()]

    def add_party(self, *, project_id: int, name: str) -> Party:
        """Add a party to a project.

        Raises:
            NotFoundError: there is no such project.
            ConflictError: the project has a party called ``name``.
        """
        with self.transaction() as connection:
            self._project(connection, project_id)
            return self._add_party(connection, project_id, name)

    def parties_of(self, *, project_id: int) -> list[Party]:
        """Return the project's parties, in the order they were added."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(parties)
                .where(parties.c.project_id == project_id)
                .order_by(parties.c.id)
            )
            return [Party.from_row(row) for row in rows.mappings()]

    def find_party(self, *, project_id: int, name: str) -> Party:
        """Return the project's party called ``name``.

        Raises:
            NotFoundError: the project has no such party.
        """
        query = sa.select(parties).where(
            parties.c.project_id == project_id, parties.c.name == name
        )
        with self.reading() as connection:
            row = only_row(
                connection, query, f"project {project_id} has no party called {name!r}"
            )
        return Party.from_row(row)
