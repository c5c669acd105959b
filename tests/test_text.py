"""The text layer: the catalogues are complete and compiled, the language is chosen
in the documented order, and ``--lang ja`` leaves no English sentence behind."""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len, set_cell_size

from rainbow_tui.cli import main
from rainbow_tui.config import ENV_CONFIG
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.findings import Finding, component_phrase
from rainbow_tui.incidents.model import new_incident
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.levels import Level, format_span
from rainbow_tui.text import (
    LANGUAGES,
    Phrase,
    choose_language,
    language,
    set_language,
    trn,
)
from tests.helpers.words import (
    catalogue_forms,
    catalogue_messages,
    english_left,
)
from tools.catalogue import (
    compiled,
    mo_path,
    plural_keys,
    po_path,
    po_text,
    read_catalogue,
    used_keys,
)

REPO = Path(__file__).resolve().parent.parent


# -- the catalogues -------------------------------------------------------------------


@pytest.mark.parametrize("code", LANGUAGES)
def test_committed_mo_is_what_the_po_compiles_to(code: str) -> None:
    catalogue = read_catalogue(code)
    assert mo_path(code).read_bytes() == compiled(catalogue), "run `make catalogue`"
    # The .po is as `make catalogue` writes it, so a second run changes nothing.
    assert po_path(code).read_bytes() == po_text(catalogue), "run `make catalogue`"


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_key_in_the_code_is_translated(code: str) -> None:
    messages = catalogue_messages(read_catalogue(code))
    keys = used_keys()
    missing = sorted(f"{key} ({where})" for key, where in keys.items() if not messages.get(key))
    assert missing == []
    assert sorted(set(messages) - set(keys)) == [], "unused keys: run `make catalogue`"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# Values a language leaves out on purpose: the appendix's English name beside the
# manual's Japanese one is for English readers only.
LEFT_OUT_IN_JAPANESE = {"app.palette.kamal": {"title_en"}}


def test_both_languages_fill_the_same_placeholders() -> None:
    english = catalogue_forms(read_catalogue("en"))
    japanese = catalogue_messages(read_catalogue("ja"))
    # Every English form, the singular too, against the one Japanese sentence.
    differing = {
        (key, text): (sorted(_fields(text)), sorted(_fields(japanese[key])))
        for key, forms in english.items()
        for text in forms
        if _fields(text) - LEFT_OUT_IN_JAPANESE.get(key, set())
        != _fields(japanese.get(key, ""))
    }
    assert differing == {}


# -- plurals --------------------------------------------------------------------------

PLURAL_FORMS = {"en": (2, "(n != 1)"), "ja": (1, "0")}


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_plural_key_has_all_its_forms(code: str) -> None:
    catalogue = read_catalogue(code)
    assert (catalogue.num_plurals, catalogue.plural_expr) == PLURAL_FORMS[code]
    plurals = plural_keys()
    assert {"log.paused", "routine.statements.unused", "routine.dependabot.open"} <= plurals
    forms = catalogue_forms(catalogue)
    wrong = {key: forms.get(key) for key in plurals
             if len(forms.get(key, ())) != catalogue.num_plurals or not all(forms[key])}
    assert wrong == {}
    # A key the code says in the singular is no plural entry, and the other way round.
    assert {str(m.id[0]) for m in catalogue if m.id and m.pluralizable} == plurals


def test_trn_picks_the_english_form_by_count() -> None:
    english = language("en")
    assert english.trn("routine.statements.unused", 1) == "1 index never scanned"
    assert english.trn("routine.statements.unused", 2) == "2 indexes never scanned"
    assert english.trn("routine.statements.unused", 0) == "0 indexes never scanned"
    # A value named like the count is the one shown: the number grouped, say.
    assert english.trn("log.paused", 1200, count="1,200") == "PAUSED — 1,200 new lines (End resumes)"
    set_language("en")
    assert trn("screen.logs.saved", 1, count="1", path="/tmp/x.log") == "Saved 1 line to /tmp/x.log"


def test_trn_in_japanese_has_one_form() -> None:
    japanese = language("ja")
    one, two = (japanese.trn("routine.statements.unused", n) for n in (1, 2))
    assert one.replace("1", "2") == two
    assert "2" in two and english_left(two) == {}


def test_plural_phrase_says_its_count_in_either_language() -> None:
    one = Phrase.plural("routine.access.suspects", 1)
    two = Phrase.plural("routine.access.suspects", 2)
    assert one.text(language("en")) == "1 suspicious client"
    assert two.text(language("en")) == "2 suspicious clients"
    assert one.text(language("ja")).replace("1", "2") == two.text(language("ja"))
    # The count is part of the phrase: equal phrases say the same words.
    assert one != two and one == Phrase.plural("routine.access.suspects", 1)
    assert one != Phrase("routine.access.suspects", count=1)
    assert len({one, Phrase.plural("routine.access.suspects", 1)}) == 1
    # Inside another phrase, as a finding's restarts inside its display.
    nested = Phrase("finding.container.running", restarts=Phrase.plural(
        "finding.container.restarts", 1), puma="")
    assert nested.text(language("en")) == "running (1 restart)"


def test_english_is_the_wording_of_today() -> None:
    english = language("en")
    finding = Finding("host app-1", "memory_percent", Phrase("finding.label.memory"),
                      Phrase("value.percent", value=87.0), Level.WARNING, "medium", 87.0)
    assert finding.alert_title(english) == "host app-1: Memory 87.0 %"
    assert format_span(timedelta(hours=7, minutes=59), english) == "7h59m"
    assert component_phrase("queue").text(english) == "queue"


def test_japanese_words_follow_the_manual() -> None:
    japanese = language("ja")
    finding = Finding("host app-1", "memory_percent", Phrase("finding.label.memory"),
                      Phrase("value.percent", value=87.0), Level.WARNING, "medium", 87.0)
    assert finding.alert_title(japanese) == "ホスト app-1: メモリ使用率 87.0 %"
    assert format_span(timedelta(minutes=14, seconds=50), japanese) == "14分50秒"
    assert japanese.tr("level.critical") == "緊急"


# -- the language choice --------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "environ", "expected"),
    [
        ("ja", {"RAINBOW_TUI_LANG": "en", "LANG": "en_US.UTF-8"}, ("ja", "flag")),
        ("en", {"RAINBOW_TUI_LANG": "ja", "LC_ALL": "ja_JP.UTF-8"}, ("en", "flag")),
        (None, {"RAINBOW_TUI_LANG": "ja", "LANG": "en_US.UTF-8"}, ("ja", "env")),
        (None, {"RAINBOW_TUI_LANG": "en", "LC_ALL": "ja_JP.UTF-8"}, ("en", "env")),
        (None, {"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, ("ja", "locale")),
        (None, {"LC_ALL": "C.UTF-8", "LANG": "ja_JP.UTF-8"}, ("en", "locale")),
        (None, {"LC_MESSAGES": "ja_JP.UTF-8"}, ("ja", "locale")),
        (None, {"LANG": "ja_JP.eucJP"}, ("ja", "locale")),
        (None, {}, ("en", "default")),
    ],
)
def test_language_choice_order(
    flag: str | None, environ: dict[str, str], expected: tuple[str, str]
) -> None:
    assert choose_language(flag, environ) == expected


def test_lang_flag_before_or_after_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--lang", "ja", "check", "--help"], ["check", "--help", "--lang=ja"]):
        with pytest.raises(SystemExit):
            main(argv)
        help_text = capsys.readouterr().out
        assert help_text.startswith("使い方: rainbow-tui check")
        assert "30 秒以内に答えます" in " ".join(help_text.split())
    with pytest.raises(SystemExit):
        main(["--lang", "en", "check", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "answers within 30 s once the configuration is read" in help_text


# -- no English left with --lang ja ---------------------------------------------------

def test_the_leak_finder_finds_english() -> None:
    english = language("en")
    output = Phrase("finding.container.missing", what="web-*").text(english)
    assert "finding.container.missing" in english_left(output)
    assert english_left(Phrase("finding.container.missing", what="web-*").text(
        language("ja"))) == {}


def test_check_demo_in_japanese_has_no_english_sentence() -> None:
    environment = {**os.environ, "COLUMNS": "400", "RAINBOW_TUI_LANG": "en"}
    result = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "--lang", "ja", "check", "--demo",
         "--drill", "memory-leak"],
        capture_output=True, text=True, timeout=240, env=environment, check=False,
    )
    assert result.returncode in (0, 1, 2), result.stderr
    output = result.stdout
    assert "コンポーネント" in output and "メモリ使用率" in output and "警告" in output
    assert english_left(output) == {}


def test_check_json_in_japanese_keeps_machine_keys() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "check", "--demo", "--json", "--lang", "ja"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode in (0, 1, 2), result.stderr
    document = json.loads(result.stdout)
    memory = next(f for f in document["findings"]
                  if f["component"] == "host app-1" and f["metric"] == "memory_percent")
    assert memory["level"] in {"normal", "elevated", "warning", "critical"}
    assert memory["code"] == "value.percent" and memory["values"]["value"] == memory["value"]
    assert memory["label"] == "メモリ使用率"
    connections = next(f for f in document["findings"] if f["metric"] == "db_connections")
    assert connections["code"] == "finding.db.connections.usable"
    assert set(connections["values"]) == {"count", "usable", "share"}


# -- incidents list -------------------------------------------------------------------


def test_incidents_list_in_japanese_aligned_by_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "incidents"
    (tmp_path / "config.toml").write_text(
        '[service]\nkamal_service = "shiojiri-rainbow-seeker"\n'
        'health_url = "https://api.shiojiri-rainbow.app/up"\n'
        f'[incidents]\nstate_dir = "{state}"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    monkeypatch.chdir(tmp_path)
    store = IncidentStore(state)
    runbook = pick_runbook("database:db_connections")
    opened = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    store.create(new_incident(runbook=runbook, at=opened, author="tanaka",
                              title="接続数の急増"))
    store.create(new_incident(runbook=runbook, at=opened + timedelta(days=1),
                              author="sato", title="pool exhausted"))
    store.close()

    assert main(["--lang", "ja", "incidents", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["ID", "状態", "アラートレベル", "件名"]
    # The last event is the timeline's description (rainbow_tui/incidents/timeline.py,
    # still bilingual): the columns before it are this command's own words.
    last_event_cell = cell_len(lines[0][: lines[0].index("最新の記録")])
    own_columns = "\n".join(set_cell_size(line, last_event_cell) for line in lines)
    assert english_left(own_columns) == {}
    # The column after the title starts at the same terminal cell on every line.
    header_cell = cell_len(lines[0][: lines[0].index("起票")])
    for line, title in ((lines[1], "pool exhausted"), (lines[2], "接続数の急増")):
        after_title = line.index(title) + len(title)
        opened_at = after_title + len(line[after_title:]) - len(line[after_title:].lstrip())
        assert cell_len(line[:opened_at]) == header_cell, line


def test_cli_help_lines_fit_the_terminal_in_cells(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["--lang", "ja", "check", "--help"])
    lines = capsys.readouterr().out.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    # The command's own name is a name, in either language.
    assert english_left("\n".join(lines).replace("rainbow-tui check", "")) == {}


def test_alerts_bar_in_japanese_lines_up_by_cells() -> None:
    from rainbow_tui.levels import Alert
    from widgets.alerts_bar import render_alerts
    from widgets.level_style import level_badge

    set_language("ja")
    now = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    finding = Finding("host app-1", "memory_percent", Phrase("finding.label.memory"),
                      Phrase("value.percent", value=87.0), Level.WARNING, "medium", 87.0)
    alerts = tuple(
        Alert(key=f"k{index}", title=finding.alert_title(language("en")), level=level,
              severity=severity, first_seen=now, respond_by=now + timedelta(minutes=minutes),
              title_phrase=finding.alert_phrase())
        for index, (level, severity, minutes) in enumerate(
            [(Level.CRITICAL, "critical", -5), (Level.WARNING, "medium", 480)]
        )
    )
    lines = render_alerts(alerts, now).plain.splitlines()
    assert "ホスト app-1: メモリ使用率 87.0 %" in lines[0]
    assert "期限超過 -5分00秒" in lines[0] and "残り 8時間00分" in lines[1]
    # One line per alert at 80 columns: a kanji takes two cells.
    assert max(cell_len(line) for line in lines) <= 80
    titles = [cell_len(line[: line.index("ホスト")]) for line in lines]
    assert titles[0] == titles[1]
    assert english_left("\n".join(lines)) == {}
    assert level_badge(Level.WARNING).plain == " 警告 "


# -- the timeline -------------------------------------------------------------------


def test_timeline_speaks_the_language_it_is_given() -> None:
    from rainbow_tui.incidents import model
    from rainbow_tui.incidents.timeline import describe_event

    runbook = pick_runbook("database:db_connections")
    opened = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    incident = new_incident(runbook=runbook, at=opened, author="tanaka", title="接続数の急増")
    incident = incident.with_event(
        model.transition(incident, "acknowledged", at=opened + timedelta(minutes=3),
                         author="tanaka"))
    incident = incident.with_event(
        model.note(incident, "pool exhausted", at=opened + timedelta(minutes=4),
                   author="sato"))
    japanese = [describe_event(incident, event, language=language("ja"))
                for event in incident.events]
    english = [describe_event(incident, event, language=language("en"))
               for event in incident.events]
    assert japanese[-2:] == ["状態 → 確認", "メモ: pool exhausted"]
    assert english[-2:] == ["status → acknowledged", "note: pool exhausted"]
    assert english_left("\n".join(japanese).replace("pool exhausted", "")) == {}
    # Without a language: the record's own wording, as the postmortem has it.
    assert describe_event(incident, incident.events[-2]) == "status → 確認 / acknowledged"


# -- the whole console, screen by screen ----------------------------------------------

JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")


def _tour(stack_dir: Path, code: str, tmp_path: Path) -> dict[str, str]:
    """Every screen's text at 80×24, the console run in ``code`` as the CLI runs it
    (tests/helpers/language_tour.py)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.helpers.language_tour", code, str(stack_dir),
         str(tmp_path / f"incidents-{code}")],
        capture_output=True, text=True, timeout=240, cwd=REPO, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shown: dict[str, str] = json.loads(result.stdout)
    return shown


def test_console_in_japanese_has_no_english_sentence(
    demo_stack: DemoProcess, tmp_path: Path
) -> None:
    shown = _tour(demo_stack.endpoints.state_dir, "ja", tmp_path)
    # The postmortem's Markdown is the postmortem's own (its timeline keeps the
    # record's wording); the screen around it is checked.
    shown.pop("postmortem preview")
    leaks = {screen: english_left(text) for screen, text in shown.items()}
    assert {screen: found for screen, found in leaks.items() if found} == {}
    # Textual's own words too: the footer's keys and the palette's search hint.
    assert "q 終了" in shown["dashboard"] and "? ヘルプ" in shown["dashboard"]
    assert "コマンドを検索" in shown["command palette"]
    assert "テーマを検索" in shown["theme picker"]
    assert "rainbow-tui のキー" in shown["help"]
    assert "ライブログ" in shown["logs"] and "f 追従" in shown["logs"]
    assert "状態 → 検知" in shown["incident"] and "⏎ 実行" in shown["incident"]
    assert "ポストモーテム下書き" in shown["postmortem"]


def test_console_in_english_has_no_japanese(demo_stack: DemoProcess, tmp_path: Path) -> None:
    from rainbow_tui.demo.profile import demo_config
    from rainbow_tui.incidents.appendix import APPENDIX
    from rainbow_tui.incidents.runbooks import load_runbooks

    shown = _tour(demo_stack.endpoints.state_dir, "en", tmp_path)
    shown.pop("postmortem preview")
    # Names the console shows as they are: the runbooks' titles (an incident's title),
    # the manual's names of its appendix commands, the configured escalation roles.
    names = [runbook.title_ja for runbook in load_runbooks(None).runbooks.values()]
    names += [entry.title_ja for entry in APPENDIX]
    names += [rung.role for rung in demo_config(demo_stack.endpoints).escalation]
    found = {}
    for screen, text in shown.items():
        for name in sorted(names, key=len, reverse=True):
            text = text.replace(name, "")
        lines = [line for line in text.splitlines() if JAPANESE.search(line)]
        if lines:
            found[screen] = lines
    assert found == {}
    assert "q Quit" in shown["dashboard"] and "Search for commands…" in shown["command palette"]
    assert "status → detected" in shown["incident"]


def test_catalogue_turns_a_sentence_plural_keeping_its_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key the code starts saying with ``trn``: its Japanese sentence stays the one
    form, its English one becomes the "many" form and the singular is asked for; said
    in the singular again, the last form is kept (tools/catalogue.py)."""
    import shutil

    import tools.catalogue as tool

    for code in LANGUAGES:
        (tmp_path / code / "LC_MESSAGES").mkdir(parents=True)
        shutil.copy(po_path(code), tmp_path / code / "LC_MESSAGES")
    monkeypatch.setattr(tool, "LOCALE_DIR", tmp_path)
    keys = used_keys()
    key = "routine.cleanup.nothing"  # said in the singular today
    japanese_before = read_catalogue("ja")[key].string
    said = {code: list(tool._update(code, keys, plural_keys() | {key})) for code in LANGUAGES}
    assert said["ja"] == [] and any("is plural now" in line for line in said["en"])
    assert read_catalogue("ja")[key].string == (japanese_before,)
    english = read_catalogue("en")[key].string
    assert english[0] == "" and english[1]
    assert list(tool._update("en", keys, plural_keys())) == [
        f"en: key {key} is singular now, its last form kept"]
    assert read_catalogue("en")[key].string == english[1]
    # And with nothing changed in the code, a run changes nothing.
    before = po_path("en").read_bytes()
    assert list(tool._update("en", keys, plural_keys())) == []
    assert po_path("en").read_bytes() == before
