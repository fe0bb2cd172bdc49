"""Secrets from the environment or from a file the environment names (issue 9, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ketaclinic.secret_settings import LARGEST, Secret, SecretUnreadable, secret_setting
from ketaclinic.store.db import shown_url

NAME = "KETACLINIC_BACKUP_KEY"
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def test_the_variable_itself() -> None:
    assert secret_setting(NAME, {NAME: KEY}) == Secret(KEY, NAME)


def test_neither_set_is_none_and_an_empty_variable_counts_as_unset() -> None:
    assert secret_setting(NAME, {}) is None
    assert secret_setting(NAME, {NAME: "", f"{NAME}_FILE": ""}) is None
    assert secret_setting(NAME, {"OTHER": KEY}) is None


@pytest.mark.parametrize("ending", ["", "\n", "\r\n", "\n\n"])
def test_a_file_named_by_name_file_with_its_trailing_newline_dropped(
    tmp_path: Path, ending: str
) -> None:
    path = tmp_path / "backup_key"
    path.write_bytes((KEY + ending).encode())
    found = secret_setting(NAME, {f"{NAME}_FILE": str(path)})
    assert found == Secret(KEY, f"{NAME}_FILE ({path})")


def test_only_line_ends_are_dropped_the_rest_is_the_secret_as_written(tmp_path: Path) -> None:
    path = tmp_path / "url"
    path.write_text("  postgresql+psycopg://clinic:p%40ss word@db/clinic \n", encoding="utf-8")
    found = secret_setting("KETACLINIC_DATABASE_URL", {"KETACLINIC_DATABASE_URL_FILE": str(path)})
    assert found is not None
    assert found.value == "  postgresql+psycopg://clinic:p%40ss word@db/clinic "


def test_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "key"
    path.write_text(KEY + "\n", encoding="utf-8")
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.setenv(f"{NAME}_FILE", str(path))
    found = secret_setting(NAME)
    assert found is not None and found.value == KEY


def test_both_set_is_refused_rather_than_guessing(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(KEY, encoding="utf-8")
    with pytest.raises(SecretUnreadable) as refused:
        secret_setting(NAME, {NAME: KEY, f"{NAME}_FILE": str(path)})
    assert str(refused.value) == (
        "KETACLINIC_BACKUP_KEY and KETACLINIC_BACKUP_KEY_FILE are both set: set only one of them"
    )


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "no-such-key"
    with pytest.raises(SecretUnreadable) as refused:
        secret_setting(NAME, {f"{NAME}_FILE": str(path)})
    assert str(refused.value) == (
        f"KETACLINIC_BACKUP_KEY_FILE ({path}): cannot read the file (No such file or directory)"
    )


def test_a_folder_is_not_a_secret_file(tmp_path: Path) -> None:
    with pytest.raises(SecretUnreadable) as refused:
        secret_setting(NAME, {f"{NAME}_FILE": str(tmp_path)})
    assert "cannot read the file (Is a directory)" in str(refused.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file whatever its mode")
def test_a_file_without_read_permission_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(KEY, encoding="utf-8")
    path.chmod(0)
    with pytest.raises(SecretUnreadable) as refused:
        secret_setting(NAME, {f"{NAME}_FILE": str(path)})
    assert "cannot read the file (Permission denied)" in str(refused.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"\n", "the file is empty"),
        (b"\xff\xfe\x00k", "the file is not UTF-8 text"),
        (b"k" * (LARGEST + 1), "the file is over 64 KiB, not a secret"),
    ],
)
def test_a_file_that_holds_no_usable_secret_is_refused(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "key"
    path.write_bytes(content)
    with pytest.raises(SecretUnreadable) as refused:
        secret_setting(NAME, {f"{NAME}_FILE": str(path)})
    assert str(refused.value) == f"KETACLINIC_BACKUP_KEY_FILE ({path}): {reason}"


def test_a_refusal_never_quotes_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"s3cret-value" + b"\xff")
    with pytest.raises(SecretUnreadable) as refused:
        secret_setting(NAME, {f"{NAME}_FILE": str(path)})
    assert "s3cret" not in str(refused.value)


def test_a_database_url_is_printed_without_its_password() -> None:
    url = "postgresql+psycopg://clinic:correct-horse@db.example:5432/ketaclinic"
    assert shown_url(url) == "postgresql+psycopg://clinic:***@db.example:5432/ketaclinic"
    assert shown_url("sqlite:///ketaclinic.db") == "sqlite:///ketaclinic.db"
