"""`steppe demo` builds the coalition and shows the policy at work."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from steppe.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_sets_up_the_coalition_and_its_commands_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEPPE_SECRET_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    folder = tmp_path / "demo"
    code, out, err = _run(capsys, "demo", "--dir", str(folder), "--no-serve")
    assert code == 0, err
    assert "11 organisations" in out and "5 sharing groups" in out
    qccm_row = next(
        line for line in out.splitlines() if "softupdates.info" in line and "QCCM" in line
    )
    # columns RU CN KZ KG TJ UZ TM IN PK AF: QCCM is China, Tajikistan, Pakistan, Afghanistan
    cells = [cell.strip() for cell in qccm_row.split("│")[3:13]]
    assert cells == ["·", "✓", "·", "·", "✓", "·", "·", "·", "✓", "✓"]

    # The demo folder works with the ordinary commands, with no key configured.
    base = ("--data-dir", str(folder))
    code, out, _ = _run(capsys, *base, "intel", "search", "softupdates.info", "--as", "analyst.ru")
    assert code == 0 and "no intel visible" in out
    code, out, _ = _run(capsys, *base, "audit", "verify")
    assert code == 0 and "intact" in out
    # The sample data came in as feeds; pulling again finds the files unchanged.
    code, out, _ = _run(capsys, *base, "feed", "list")
    assert code == 0 and "sofacy-2015" in out and "failing" not in out
    code, out, _ = _run(capsys, *base, "feed", "pull", "ipsum")
    assert code == 0 and "ipsum: not modified" in out

    # The replayed sample telemetry alerted QCCM members on QCCM intel, and nobody else.
    for user, alerted in [("analyst.pk", True), ("analyst.tj", True), ("analyst.ru", False)]:
        code, out, _ = _run(capsys, *base, "alert", "list", "--as", user, "--json")
        assert code == 0 and ("www.softupdates.info" in out) is alerted, user

    # The demo playbook ran on the alerts: one incident of the center, shared by the two
    # members whose sensors touched the domain; others do not see it.
    code, out, _ = _run(capsys, *base, "playbook", "runs", "--as", "coordinator", "--json")
    assert code == 0
    runs = [orjson.loads(line) for line in out.splitlines()]
    assert len(runs) == 2 and {r["status"] for r in runs} == {"ok"}
    for user, shared in [("analyst.kz", True), ("analyst.kg", True), ("analyst.uz", False)]:
        code, out, _ = _run(capsys, *base, "incident", "list", "--as", user, "--json")
        incidents = [orjson.loads(line) for line in out.splitlines()]
        assert code == 0 and len(incidents) == int(shared), user
        if shared:
            assert sorted(incidents[0]["participants"]) == ["KG-CERT", "KZ-CERT"]

    # Running it again rebuilds it from scratch.
    code, out, _ = _run(capsys, "demo", "--dir", str(folder), "--no-serve")
    assert code == 0 and "9 feeds of 483 entries" in out


def test_demo_never_overwrites_a_real_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "steppe.db").write_text("precious")
    code, _out, err = _run(capsys, "demo", "--dir", str(tmp_path), "--no-serve")
    assert code == 1 and "is not a demo folder" in err
    assert (tmp_path / "steppe.db").read_text() == "precious"
