"""What a wheel of linkage carries: the code, the shipped configs and the
licence, so that `pip install` then `linkage demo` works anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_wheel_carries_the_configs_and_the_licence(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("linkage-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        str(path.relative_to(ROOT / "src"))
        for path in (ROOT / "src" / "linkage" / "configs").rglob("*")
        if path.is_file()
    }
    assert "linkage/configs/schemas/demo.json" in shipped
    assert shipped <= names
    # The web console's templates, stylesheet and script come along too.
    console = {
        str(path.relative_to(ROOT / "src"))
        for folder in ("templates", "static")
        for path in (ROOT / "src/linkage/service/console" / folder).iterdir()
    }
    assert "linkage/service/console/templates/base.html" in console
    assert console <= names
    assert any(name.endswith("licenses/LICENSE") for name in names)
