"""The issue's test of done: every format for every member of the demo coalition, each
accepted by its checker, and no member's export holding an indicator it may not see."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest
import suricataparser
from sqlalchemy import select

from cli_runner import Steppe
from steppe.cli.main import main
from steppe.demo.coalition import MEMBERS
from steppe.response.exports import registered_exporters
from steppe.sharing import directory
from steppe.sharing.model import Distribution, ObjectRights, TlpLevel
from steppe.sharing.policy import can_see
from steppe.storage.engine import make_engine
from steppe.storage.schema import intel_objects, object_groups, object_sources

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "demo"
    try:
        main(["demo", "--dir", str(folder), "--no-serve"])
    except SystemExit as exit_:
        assert not exit_.code
    return folder


def _visible_ids(folder: Path, user: str) -> set[str]:
    """Stix ids of current indicators ``can_see`` lets ``user`` see, TLP up to AMBER."""
    engine = make_engine(f"sqlite:///{folder / 'steppe.db'}")
    with engine.connect() as conn:
        actor = directory.load_actor(conn, user)
        groups: dict[int, set[int]] = {}
        for pk, group in conn.execute(select(object_groups)):
            groups.setdefault(pk, set()).add(group)
        rows = {r.pk: r for r in conn.execute(select(intel_objects))}
        sources: dict[int, list[int]] = {}
        for pk, source in conn.execute(select(object_sources)):
            sources.setdefault(pk, []).append(source)
    engine.dispose()

    def rights(pk: int) -> ObjectRights:
        r = rows[pk]
        return ObjectRights(
            r.owner_org_id,
            Distribution(r.distribution),
            TlpLevel(r.tlp),
            frozenset(groups.get(pk, ())),
            tuple(rights(s) for s in sources.get(pk, ())),
        )

    return {
        r.stix_id
        for pk, r in rows.items()
        if r.type == "indicator" and r.is_current and can_see(actor, rights(pk))
    }


def test_every_member_gets_every_format_and_only_what_it_may_see(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Steppe(demo, capsys)
    nft = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    checkzone = shutil.which("named-checkzone")
    exported_something = 0
    for _, _, user in MEMBERS:
        visible = _visible_ids(demo, user)
        for fmt in registered_exporters():
            out = tmp_path / f"{user}.{fmt}"
            run.ok("export", fmt, "--as", user, "--out", str(out), "--max-tlp", "red")
            if fmt == "csv":
                ids = {r["indicator"] for r in csv.DictReader(io.StringIO(out.read_text()))}
                assert ids <= visible, (user, sorted(ids - visible)[:3])
                exported_something += len(ids)
            elif fmt == "nft" and nft is not None:
                checked = subprocess.run([nft, "-c", "-f", str(out)], capture_output=True,
                                         text=True, check=False)  # fmt: skip
                assert checked.returncode == 0, checked.stderr
            elif fmt == "rpz" and checkzone is not None:
                checked = subprocess.run([checkzone, "rpz.steppe", str(out)],
                                         capture_output=True, text=True, check=False)  # fmt: skip
                assert checked.returncode == 0, checked.stdout
            elif fmt in ("suricata", "snort"):
                for line in out.read_text().splitlines():
                    if line and not line.startswith("#"):
                        assert suricataparser.parse_rule(line) is not None, line
    assert exported_something > 0  # the demo's intel is active: the check is not vacuous
    if nft is None or checkzone is None:
        pytest.skip("nft or named-checkzone missing: the rest was checked")
