"""A project on a PostgreSQL server: the adapter's translation, the
layout and its version, a server that is not there, a database that holds
no project or another's tables, and several connections on one project."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from core.schema import Box, CellKind
from core.store import ProjectStore, ReadOnlyProjectError, SaveFailedError, StoreError
from core.store.postgres_connection import PostgresRow, translate
from core.store_schema import CURRENT_VERSION
from core.taxonomy import Taxonomy, TaxonomyClass


def test_translate_spells_parameters_for_psycopg_and_leaves_literals_and_casts() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == "SELECT a FROM t WHERE b = %s AND c = %s"
    assert translate("INSERT INTO t(a, b) VALUES (:a, :b_2)") == "INSERT INTO t(a, b) VALUES (%(a)s, %(b_2)s)"
    assert translate("SELECT x::jsonb, '?:a%' FROM t WHERE y LIKE 'a%' AND z = ?") == (
        "SELECT x::jsonb, '?:a%%' FROM t WHERE y LIKE 'a%%' AND z = %s")
    assert translate("BEGIN IMMEDIATE") == "BEGIN"
    assert translate("SELECT '50%'", with_parameters=False) == "SELECT '50%'"


def test_a_percent_in_a_literal_reaches_the_server_as_one(postgres_url: str) -> None:
    with ProjectStore.create(postgres_url) as store:
        assert store._db.execute("SELECT '50%' AS a, ? AS b", (1,)).fetchone()["a"] == "50%"
        assert store._db.execute("SELECT '50%' AS a").fetchone()["a"] == "50%"


def test_a_row_reads_by_name_and_by_position_as_sqlite_rows_do() -> None:
    row = PostgresRow({"id": 0, "label": 1}, (7, "monocyte"))
    assert row["label"] == row[1] == "monocyte"
    assert dict(zip(row.keys(), row, strict=True)) == {"id": 7, "label": "monocyte"} == dict(row)  # type: ignore[call-overload]


def test_a_new_project_has_the_current_layout_and_its_version_in_meta(postgres_url: str) -> None:
    with ProjectStore.create(postgres_url) as store:
        assert store.schema_version == CURRENT_VERSION and not store.is_file
        assert store.get_meta("schema_version") == str(CURRENT_VERSION)
        assert store.project_id
    with psycopg.connect(postgres_url) as raw:
        columns = raw.execute("SELECT data_type FROM information_schema.columns "
                              "WHERE table_name = 'cells' AND column_name = 'x0'").fetchone()
    assert columns == ("double precision",)  # not PostgreSQL's 4-byte REAL


def test_ids_are_never_given_again_after_a_delete(postgres_url: str, tmp_path: Path) -> None:
    with ProjectStore.create(postgres_url) as store:
        slide = store.add_slide(tmp_path / "a.png", 64, 48)
        first = store.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
        store.remove_cells([first.id])
        second = store.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
        assert second.id > first.id
        store.undo()
        store.undo()
        assert [cell.id for cell in store.cells()] == [first.id]  # undo gives the cell back under its own id


def test_a_project_from_a_newer_hemalabel_is_refused(postgres_url: str) -> None:
    ProjectStore.create(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        raw.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(CURRENT_VERSION + 1),))
    with pytest.raises(StoreError, match="newer HemaLabel"):
        ProjectStore.open(postgres_url)


def test_a_database_without_a_project_is_not_opened_and_one_with_a_project_not_created_over(
    postgres_url: str,
) -> None:
    with pytest.raises(StoreError, match="no HemaLabel project in this database"):
        ProjectStore.open(postgres_url)
    ProjectStore.create(postgres_url).close()
    with pytest.raises(StoreError, match="a project already exists here"):
        ProjectStore.create(postgres_url)


def test_a_database_holding_another_programs_tables_is_left_alone(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        raw.execute("CREATE TABLE cells (id integer)")
    with pytest.raises(StoreError, match="already holds tables named cells"):
        ProjectStore.create(postgres_url)


def test_a_server_that_is_not_there_is_one_clear_error_naming_the_address() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"postgresql://lab@127.0.0.1:{port}/hemalabel"
    with pytest.raises(StoreError) as refused:
        ProjectStore.open(address)
    message = str(refused.value)
    assert message.startswith(f"{address}: cannot connect to the PostgreSQL server (")
    assert "\n" not in message


def test_a_missing_database_is_named(postgres_url: str) -> None:
    missing = postgres_url.rpartition("/")[0] + "/no_such_database"
    with pytest.raises(StoreError, match=r"no_such_database: cannot connect .*does not exist"):
        ProjectStore.open(missing)


def test_another_connections_edit_is_seen_and_the_taxonomy_read_again(postgres_url: str, tmp_path: Path) -> None:
    with ProjectStore.create(postgres_url) as editor, ProjectStore.open(postgres_url, read_only=True) as reader:
        slide = editor.add_slide(tmp_path / "a.png", 64, 48)
        assert reader.changed_elsewhere() and not reader.changed_elsewhere()
        editor.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
        assert reader.changed_elsewhere() and not reader.changed_elsewhere()
        smudge = TaxonomyClass("smudge", "Smudge cell", "", "#123456", "other", False)
        editor.set_taxonomy(Taxonomy(editor.taxonomy.name, (*editor.taxonomy.classes, smudge)))
        assert reader.changed_elsewhere() and "smudge" in reader.taxonomy.names
        assert not editor.changed_elsewhere()  # its own edits are not news to it


def test_two_stations_edit_one_project_at_once(postgres_url: str, tmp_path: Path) -> None:
    """No lock file: a server project is open for editing in several places."""
    with ProjectStore.create(postgres_url) as first, ProjectStore.open(postgres_url) as second:
        assert not first.read_only and not second.read_only
        slide = first.add_slide(tmp_path / "a.png", 64, 48)
        cell = second.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
        first.set_label([cell.id], "monocyte")
        assert second.cell(cell.id).label == "monocyte"
        assert [c.new_label for c in second.corrections()] == [None, "monocyte"]


def test_a_read_only_opening_is_refused_any_write_by_the_server(postgres_url: str, tmp_path: Path) -> None:
    ProjectStore.create(postgres_url).close()
    with ProjectStore.open(postgres_url, read_only=True) as reader:
        with pytest.raises(ReadOnlyProjectError):
            reader.add_slide(tmp_path / "a.png", 64, 48)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader._db.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")


def test_an_edit_the_server_refuses_is_rolled_back_whole_and_said_so(postgres_url: str, tmp_path: Path) -> None:
    with ProjectStore.create(postgres_url) as store:
        slide = store.add_slide(tmp_path / "a.png", 64, 48)
        with pytest.raises(SaveFailedError, match=r"was not saved .*server is running"), store.edit("Two cells"):
            store.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
            store._db.execute("INSERT INTO slides(id, path, width, height, added_at) VALUES (?, 'b', 1, 1, 'now')",
                              (slide.id,))  # a duplicate id: the server refuses it
        assert store.cells() == [] and not store.can_undo()


def test_a_user_without_write_rights_opens_the_project_read_only_and_is_told(
    postgres_url: str, tmp_path: Path
) -> None:
    with ProjectStore.create(postgres_url) as store:
        store.add_slide(tmp_path / "a.png", 64, 48)
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {reader} LOGIN")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
    try:
        as_reader = postgres_url.replace("postgresql://postgres@", f"postgresql://{reader}@")
        with ProjectStore.open(as_reader) as store:
            facts = store.server_facts()
            assert store.read_only and facts is not None and not facts.may_write and facts.user == reader
            assert len(store.slides()) == 1
            with pytest.raises(ReadOnlyProjectError, match="open read-only"):
                store.add_slide(tmp_path / "b.png", 64, 48)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {reader}")
            admin.execute(f"DROP ROLE {reader}")


def test_a_server_gone_while_working_refuses_the_edit_visibly_and_says_so(
    postgres_url: str, tmp_path: Path
) -> None:
    with ProjectStore.create(postgres_url) as store:
        slide = store.add_slide(tmp_path / "a.png", 64, 48)
        heard: list[SaveFailedError] = []
        store.subscribe_failures(heard.append)
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # stands in for a server restart
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with pytest.raises(SaveFailedError, match=r'"Draw box" was not saved \(.*lost the connection'):
            store.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
        assert len(heard) == 1  # the window hears of it, however deep the edit was
        with pytest.raises(StoreError, match="lost the connection to the PostgreSQL server"):
            store.slides()


def test_two_stations_creating_one_project_at_once_make_one(postgres_url: str) -> None:
    outcomes: list[object] = []

    def create() -> None:
        try:
            ProjectStore.create(postgres_url).close()
            outcomes.append("made")
        except StoreError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("made") == 1
    assert all("a project already exists here" in str(outcome) for outcome in outcomes if outcome != "made")
    with ProjectStore.open(postgres_url) as store:
        assert store.get_meta("schema_version") == str(CURRENT_VERSION)


PASSWORD_ROLE = "hemalabel_password_test"  # .ci/postgres-cluster makes this role give a password


def test_a_wrong_password_is_one_message_naming_the_address_and_where_the_password_comes_from(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PASSWORD_ROLE,)).fetchone() is None:
            admin.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right'")
    server, _, database = postgres_url.rpartition("/")
    host_port = server.rpartition("@")[2]
    address = f"postgresql://{PASSWORD_ROLE}@{host_port}/{database}"
    password_file = tmp_path / "pgpass"
    password_file.write_text(f"{host_port}:{database}:{PASSWORD_ROLE}:tr0ub4dor\n")
    password_file.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(password_file))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    try:
        with pytest.raises(StoreError) as refused:
            ProjectStore.open(address)
    except pytest.fail.Exception:
        if os.environ.get("HEMALABEL_REQUIRE_POSTGRES"):
            raise
        pytest.skip("this server does not ask the test role for a password (not .ci/postgres-cluster's)")
    message = str(refused.value)
    assert message.startswith(f"{address}: cannot connect to the PostgreSQL server (")
    assert "password authentication failed" in message and "pgpass" in message
    assert "tr0ub4dor" not in message and "\n" not in message


def test_a_silent_network_fails_a_statement_in_seconds_unless_the_address_says_otherwise(postgres_url: str) -> None:
    def timeouts(address: str, make: bool = False) -> tuple[str, str, str]:
        with (ProjectStore.create if make else ProjectStore.open)(address) as store:
            connected = store._db.raw.info.get_parameters()  # type: ignore[attr-defined]
        return connected["tcp_user_timeout"], connected["keepalives"], connected["connect_timeout"]

    assert timeouts(postgres_url, make=True) == ("10000", "1", "10")
    assert timeouts(postgres_url + "?tcp_user_timeout=60000&connect_timeout=30") == ("60000", "1", "30")
