"""Reading VACUUM (VERBOSE)'s messages: the texts are PostgreSQL 16's, as the
embedded server sends them and as ``src/backend/access/heap/vacuumlazy.c``
(``heap_vacuum_rel``) and ``src/backend/commands/vacuum.c``
(``vacuum_is_permitted_for_relation``) word them."""

from __future__ import annotations

from rainbow_tui.upkeep.vacuum_messages import (
    TableVacuumed,
    VacuumTally,
    skipped_table,
    table_vacuumed,
)

FINISHED = (
    'finished vacuuming "shiojiri_rainbow_seeker_production.public.sessions": index scans: 0\n'
    "pages: 0 removed, 9 remain, 9 scanned (100.00% of total)\n"
    "tuples: 1000 removed, 1000 remain, 0 are dead but not yet removable\n"
    "removable cutoff: 732, which was 0 XIDs old when operation ended\n"
    "frozen: 0 pages from table (0.00% of total) had 0 tuples frozen\n")


def test_a_finished_table_gives_its_schema_table_and_dead_tuples_removed() -> None:
    assert table_vacuumed(FINISHED, "shiojiri_rainbow_seeker_production") == TableVacuumed(
        "public", "sessions", 1000)


def test_a_database_name_with_dots_is_taken_off_whole() -> None:
    message = FINISHED.replace("shiojiri_rainbow_seeker_production", "app.v2")
    found = table_vacuumed(message, "app.v2")
    assert found is not None and found.qualified == "public.sessions"


def test_other_messages_are_not_a_finished_table() -> None:
    for message in ('vacuuming "app.public.sessions"', 'analyzing "public.sessions"',
                    '"sessions": scanned 9 of 9 pages, containing 1000 live rows and 0 dead'
                    " rows; 1000 rows in sample, 1000 estimated total rows",
                    FINISHED.replace("tuples: 1000 removed", "タプル: 1000 削除")):
        assert table_vacuumed(message, "app") is None


def test_skipped_tables_in_the_words_of_16_and_15() -> None:
    assert skipped_table('permission denied to vacuum "pg_authid", skipping it') == "pg_authid"
    assert skipped_table('skipping "sessions" --- only table or database owner can vacuum'
                         " it") == "sessions"
    assert skipped_table(FINISHED) is None


def _tally() -> VacuumTally:
    return VacuumTally("app", frozenset({"public.sessions"}), frozenset({"sessions"}))


def test_the_tally_counts_app_tables_and_tells_app_tables_from_catalogs_skipped() -> None:
    tally = _tally()
    finished = [tally.hear(message) for message in (
        FINISHED.replace("shiojiri_rainbow_seeker_production", "app"),
        FINISHED.replace("shiojiri_rainbow_seeker_production.public.sessions",
                         "app.pg_catalog.pg_class"),
        'permission denied to vacuum "sessions", skipping it',
        'permission denied to vacuum "pg_authid", skipping it',
        'analyzing "public.sessions"')]
    assert finished == [TableVacuumed("public", "sessions", 1000), None, None, None, None]
    assert tally.vacuumed == [TableVacuumed("public", "sessions", 1000)]
    assert tally.skipped == ['permission denied to vacuum "sessions", skipping it']
    assert tally.catalogs_skipped == 1 and tally.understood


def test_a_server_in_another_language_is_not_understood() -> None:
    """lc_messages = 'ja_JP': PostgreSQL's own translation, nothing read here."""
    tally = _tally()
    tally.hear('"app.public.sessions"の VACUUM が完了: インデックススキャン: 0')
    tally.hear('"pg_authid"をVACUUMする権限がありません、スキップします')
    assert not tally.understood and tally.vacuumed == [] and tally.catalogs_skipped == 0
