"""Playbook files: every problem is reported with its file, line and field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from steppe.errors import InvalidPlaybook
from steppe.response.playbooks import PlaybookLibrary, TriggerKind, load_playbook
from steppe.response.playbooks.notify import EmailAction, WebhookAction

FULL = """\
name: c2-escalation
owner: Regional Center
description: High alerts on C2 domains go to the duty desk.
enabled: true
trigger:
  type: alert
  backfill: 1h
  conditions:
    severity: high
    kind: ioc
    match_type: [domain, url]
    title: "*indicator hit*"
actions:
  - type: webhook
    url: https://hooks.example/steppe
    secret: DUTY_HOOK_SECRET
    retries: 8
    backoff: 10
    message: "{alert.severity} hit of {alert.matched} at {alert.organisation}"
  - type: email
    to: [duty@center.example]
    subject: "[{alert.severity}] {alert.title}"
"""


def problems(text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InvalidPlaybook) as caught:
        load_playbook(text, source="pb.yml")
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_a_full_playbook_loads() -> None:
    playbook = load_playbook(FULL, source="pb.yml")
    assert playbook.name == "c2-escalation" and playbook.owner == "Regional Center"
    assert playbook.trigger.kind is TriggerKind.ALERT
    assert playbook.trigger.backfill.total_seconds() == 3600
    webhook, email = playbook.actions
    assert isinstance(webhook, WebhookAction) and isinstance(email, EmailAction)
    assert (webhook.retries, webhook.backoff, webhook.secret_name) == (8, 10.0, "DUTY_HOOK_SECRET")
    high = {"severity": "critical", "kind": "ioc", "match_type": "domain",
            "title": "domain indicator hit in dns.question.name"}  # fmt: skip
    assert playbook.trigger.matches(high)
    assert not playbook.trigger.matches({**high, "severity": "medium"})
    assert not playbook.trigger.matches({**high, "match_type": "ipv4"})


def test_unknown_keys_name_their_line_and_every_problem_is_listed() -> None:
    text = FULL.replace("    severity: high", "    severty: high").replace(
        "    retries: 8", "    retries: eight"
    )
    found = problems(text)
    assert found[0][:2] == (9, "trigger.conditions.severty")
    assert "unknown key" in found[0][2] and "severity" in found[0][2]
    assert (17, "actions[0].retries", "must be a whole number, got 'eight'") in found


def test_a_yaml_syntax_error_names_its_line() -> None:
    text = "name: x\nowner: KZ-CERT\ntrigger:\n  type: alert\n   bad: indent\n"
    with pytest.raises(InvalidPlaybook) as caught:
        load_playbook(text, source="broken.yml")
    assert str(caught.value).startswith("broken.yml:5: YAML:")


@pytest.mark.parametrize(
    ("change", "line", "field", "words"),
    [
        (("    secret: DUTY_HOOK_SECRET", "    secret: hunter2-very-secret!"), 16,
         "actions[0].secret", "names the environment variable"),
        (("    url: https://hooks.example/steppe", "    url: ftp://x"), 15, "actions[0].url",
         "http:// or https://"),
        (("  - type: email", "  - type: fax"), 20, "actions[1].type", "unknown action 'fax'"),
        (('    subject: "[{alert.severity}] {alert.title}"', '    subject: "{alert.sevrity}"'),
         22, "actions[1].subject", "unknown field {alert.sevrity}"),
        (('    subject: "[{alert.severity}] {alert.title}"', '    subject: "{alert.__class__}"'),
         22, "actions[1].subject", "only names of letters"),
        (("    severity: high", "    severity: urgent"), 9, "trigger.conditions.severity",
         "must be one of low, medium, high, critical"),
        (("  type: alert", "  type: telepathy"), 6, "trigger.type", "must be one of alert"),
        (("  backfill: 1h", "  backfill: a while"), 7, "trigger.backfill", "duration"),
        (("    to: [duty@center.example]", "    to: [duty]"), 21, "actions[1].to",
         "not an e-mail address"),
        (("enabled: true", "enabled: sometimes"), 4, "enabled", "true or false"),
        (("name: c2-escalation", "name: c2 escalation!"), 1, "name", "letters, digits"),
        (("name: c2-escalation", "name: off"), 1, "name", "quote it"),
        (("    kind: ioc", "    kind: ioc\n    kind: sigma"), 11, "trigger.conditions.kind",
         "appears twice"),
    ],
)  # fmt: skip
def test_broken_files_point_at_the_culprit(
    change: tuple[str, str], line: int, field: str, words: str
) -> None:
    assert change[0] in FULL
    found = problems(FULL.replace(change[0], change[1]))
    assert found[0][0] == line and found[0][1] == field, found
    assert words in found[0][2]


def test_missing_parts_are_named() -> None:
    found = problems("name: x\nowner: KZ-CERT\n")
    assert [(f, m) for _l, f, m in found] == [(None, "'trigger' is required")]
    found = problems("name: x\nowner: KZ-CERT\ntrigger: {type: intel}\nactions: []\n")
    assert found == [(4, "actions", "needs at least one action")]
    assert problems("- just\n- a list\n")[0][2].startswith("a playbook is a mapping")
    assert problems("")[0][2] == "the file is empty"


def test_actions_must_fit_their_trigger() -> None:
    text = "name: x\nowner: KZ-CERT\ntrigger: {type: incident-status}\nactions:\n  - {type: advisory, groups: [CSTO]}\n"
    found = problems(text)
    assert found[0][:2] == (5, "actions[0].type")
    assert "runs on alert, intel triggers" in found[0][2]


def test_the_folder_is_reloaded_and_a_broken_edit_keeps_the_last_good_version(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yml").write_text(FULL)
    (tmp_path / "notes.txt").write_text("not a playbook")
    library = PlaybookLibrary(tmp_path)
    assert library.refresh()
    assert [p.name for p in library.playbooks()] == ["c2-escalation"]
    assert not library.refresh()  # nothing changed
    (tmp_path / "a.yml").write_text(FULL.replace("enabled: true", "enabled: maybe"))
    os.utime(tmp_path / "a.yml", ns=(1, 1))  # a different mtime even on a coarse clock
    assert library.refresh()
    assert library.get("c2-escalation").enabled  # the last good version
    assert str(library.errors[tmp_path / "a.yml"]).startswith(f"{tmp_path / 'a.yml'}:4: enabled")
    (tmp_path / "b.yml").write_text(FULL)  # the same name again
    library.refresh()
    assert "already used by a.yml" in str(library.errors[tmp_path / "b.yml"])
    (tmp_path / "a.yml").unlink()
    library.refresh()
    assert library.playbooks() == []


def test_a_file_that_expands_without_bounds_is_refused() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        laughs += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
    found = problems(laughs)
    assert "more than 20000 values" in found[0][2]
