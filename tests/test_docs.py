"""The docs keep up with the code: CLI reference generated, every setting documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from steppe.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_generated_from_the_code(tmp_path: Path) -> None:
    target = tmp_path / "cli.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "typer",
            "steppe.cli.main",
            "utils",
            "docs",
            "--name",
            "steppe",
            "--output",
            str(target),
        ],
        check=True,
        capture_output=True,
    )
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert target.read_text() == committed, (
        "docs/cli.md is stale: run `typer steppe.cli.main utils docs --name steppe "
        "--output docs/cli.md`"
    )


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"STEPPE_{name.upper()}" in doc, name


def test_readme_has_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "steppe demo" in readme
    assert "bash scripts/test.sh" in readme


def test_every_endpoint_is_documented(tmp_path: Path) -> None:
    from steppe.api.app import create_app
    from steppe.storage import migrate
    from steppe.storage.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    migrate.upgrade(engine)
    spec = create_app(Settings(data_dir=tmp_path, secret_key="k" * 20), engine=engine).openapi()
    engine.dispose()
    doc = (ROOT / "docs" / "api.md").read_text()
    for path, operations in spec["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path}`" in doc, (method, path)


def test_api_docs_page_works_offline(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from steppe.api.app import create_app
    from steppe.storage import migrate
    from steppe.storage.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    migrate.upgrade(engine)
    with TestClient(
        create_app(Settings(data_dir=tmp_path, secret_key="k" * 20), engine=engine)
    ) as client:
        page = client.get("/api/v1/docs")
        assert page.status_code == 200
        assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")  # no CDN
        assert client.get("/api/v1/docs-assets/swagger-ui-bundle.js").status_code == 200
    engine.dispose()
