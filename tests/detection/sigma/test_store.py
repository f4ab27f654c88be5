"""Rules added, changed or removed take effect without a restart."""

from __future__ import annotations

import time
from pathlib import Path

from steppe.detection.sigma.store import RuleStore

from .helpers import sysmon

RULE = """title: {title}
id: 9c7a1f0e-2b3c-4d5e-8f90-a1b2c3d4e5f{n}
logsource: {{product: windows, category: process_creation}}
detection:
    sel:
        Image|endswith: '\\{image}'
    condition: sel
"""


def write(folder: Path, name: str, n: int, image: str, title: str = "") -> None:
    (folder / name).write_text(RULE.format(title=title or name, n=n, image=image))


def titles(store: RuleStore, image: str) -> list[str]:
    return [h.title for h in store.evaluate(sysmon(Image=f"c:\\{image}"))]


def test_added_changed_removed(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", 1, "a.exe")
    store = RuleStore([tmp_path])
    assert titles(store, "a.exe") == ["a.yml"]
    write(tmp_path, "b.yml", 2, "b.exe")
    change = store.reload()
    assert change is not None and change.changed == ["b.yml"]
    assert titles(store, "b.exe") == ["b.yml"]
    write(tmp_path, "a.yml", 1, "a2.exe", title="a, edited")
    store.reload()
    assert titles(store, "a.exe") == [] and titles(store, "a2.exe") == ["a, edited"]
    (tmp_path / "b.yml").unlink()
    assert store.reload() is not None
    assert titles(store, "b.exe") == []
    assert store.reload() is None


def test_a_broken_edit_is_reported_and_the_rest_still_run(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", 1, "a.exe")
    write(tmp_path, "b.yml", 2, "b.exe")
    store = RuleStore([tmp_path])
    (tmp_path / "b.yml").write_text("title: b\nlogsource: {product: windows}\ndetection: [\n")
    change = store.reload()
    assert change is not None and change.rules == 1
    [problem] = change.problems
    assert problem.source.endswith("b.yml") and problem.line == 4
    assert "YAML" in problem.reason
    assert titles(store, "a.exe") == ["a.yml"]


def test_the_watcher_picks_up_changes(tmp_path: Path) -> None:
    store = RuleStore([tmp_path], interval=0.05)
    store.start()
    try:
        write(tmp_path, "a.yml", 1, "a.exe")
        deadline = time.monotonic() + 30
        while not store.engine.rules and time.monotonic() < deadline:
            time.sleep(0.05)
        assert titles(store, "a.exe") == ["a.yml"]
    finally:
        store.stop()


def test_a_reload_builds_the_plans_already_in_use(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", 1, "a.exe")
    store = RuleStore([tmp_path])
    titles(store, "a.exe")
    seen = store.engine.routes()
    write(tmp_path, "b.yml", 2, "b.exe")
    store.reload()
    assert store.engine.routes() == seen
