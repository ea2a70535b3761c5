"""The service's data folder and database are private, or it does not start;
names that reach logs and terminals hold no control characters (on both
databases), and /ready says whether the service can work."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from linkage.service import initialise
from linkage.service.datadir import DataFolderError
from linkage.service.loopback import running_service
from linkage.storage import Store
from tests import http_calls


def test_the_database_is_created_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    initialise(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "linkage.db").stat().st_mode) == 0o600


def test_a_database_left_open_is_narrowed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    initialise(data_dir)
    (data_dir / "linkage.db").chmod(0o644)
    with running_service(data_dir):
        pass
    assert stat.S_IMODE((data_dir / "linkage.db").stat().st_mode) == 0o600


def test_a_data_folder_open_to_others_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    with pytest.raises(DataFolderError, match=f"chmod 700 {data_dir}"):
        initialise(data_dir)
    assert not (data_dir / "linkage.db").exists()
    assert not (data_dir / "operator.token").exists()


@pytest.mark.parametrize("name", ["with\x00nul", "new\nline", "bell\x07"])
def test_a_project_name_with_a_control_character_is_refused(
    tmp_path: Path, name: str, database_url: str
) -> None:
    with running_service(tmp_path / "data", database_url=database_url) as service:
        answer = http_calls.post(
            f"{service.url}/projects",
            json={"name": name, "schema_fingerprint": "a" * 64, "parties": ["p"]},
            headers={"Authorization": f"Bearer {service.operator_token}"},
        )
    assert answer.status_code == 422, answer.text


def test_ready_says_the_database_and_the_worker_work(
    tmp_path: Path, database_url: str
) -> None:
    with running_service(tmp_path / "data", database_url=database_url) as service:
        answer = http_calls.get(f"{service.url}/ready")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": True, "worker": True},
    }


def test_an_unreachable_database_is_not_ready(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    store = Store.open(f"sqlite:///{folder / 'linkage.db'}")
    assert store.reachable()
    store.close()
    # The folder is replaced by a plain file: SQLite can neither find nor
    # make the database now (whatever the user's privileges).
    (folder / "linkage.db").unlink()
    folder.rmdir()
    folder.write_text("not a folder")
    assert not store.reachable()
