"""Task templates: the built-in CERT ones and those of STEPPE_INCIDENT_TEMPLATES_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest

from steppe.errors import InputError
from steppe.response.incidents.templates import BUILTIN, load_templates, templates_by_name


def test_builtin_templates() -> None:
    assert sorted(BUILTIN) == ["compromised-host", "ddos", "phishing", "ransomware"]
    assert all(len(t.tasks) >= 5 for t in BUILTIN.values())


def test_a_file_adds_and_replaces_templates(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(
        "supply-chain:\n  description: Vendor update\n  tasks: [Find users, Collect hashes]\n"
        "ddos:\n  tasks: [Call the ISP]\n"
    )
    found = templates_by_name(path)
    assert found["supply-chain"].tasks == ("Find users", "Collect hashes")
    assert found["ddos"].tasks == ("Call the ISP",)
    assert [t.name for t in load_templates(path)][-1] == "supply-chain"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "must map template names"),
        ("x:\n  tasks: []\n", "x.tasks: 'tasks' must list 1 to 100"),
        ("x: [1]\n", "a template is a mapping"),
        ("x: {tasks: [a], description: 3}\n", "x.description: must be text"),
        ("x: [\n", "not YAML or JSON"),
    ],
)
def test_bad_files_say_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as caught:
        templates_by_name(path)
    assert str(caught.value).startswith(str(path))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read it"):
        templates_by_name(tmp_path / "nope.yaml")
