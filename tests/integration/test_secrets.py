"""Secrets come from the environment or a file, never from the repository (issue 9, item 5).

The command line and the web app take KETACLINIC_DATABASE_URL and KETACLINIC_BACKUP_KEY either
as variables or from the files KETACLINIC_DATABASE_URL_FILE and KETACLINIC_BACKUP_KEY_FILE name;
a file that cannot be read is a clear error (exit 2), on SQLite and PostgreSQL. And no file of
the repository holds something that looks like a secret.
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ketaclinic.cli import main
from ketaclinic.store.db import make_engine, migrate, session_factory
from ketaclinic.store.models import ApiToken
from ketaclinic.web.app import create_app
from tests.integration.services_support import open_clinic

ROOT = Path(__file__).parents[2]
KEY = base64.b64encode(bytes(range(32))).decode()
SECRET_VARIABLES = (
    "KETACLINIC_DATABASE_URL",
    "KETACLINIC_DATABASE_URL_FILE",
    "KETACLINIC_BACKUP_KEY",
    "KETACLINIC_BACKUP_KEY_FILE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No secret from the machine running the tests; no ./ketaclinic.db made in the project."""
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def secret_file(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / name
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def tokens_in(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.count()).select_from(ApiToken)) or 0
    finally:
        engine.dispose()


def test_the_database_url_from_a_file(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with open_clinic(database_url):
        pass  # the users prescriber, nurse, front_desk and admin
    url_file = secret_file(tmp_path, "database_url", database_url)
    monkeypatch.setenv("KETACLINIC_DATABASE_URL_FILE", str(url_file))
    assert main(["user", "token", "nurse"]) == 0, capsys.readouterr().err
    assert tokens_in(database_url) == 1  # written to the database the file names
    assert not (tmp_path / "ketaclinic.db").exists()


def test_an_unreadable_database_url_file_stops_the_command_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "not-there"
    monkeypatch.setenv("KETACLINIC_DATABASE_URL_FILE", str(missing))
    assert main(["user", "token", "nurse"]) == 2
    assert capsys.readouterr().err == (
        f"error: KETACLINIC_DATABASE_URL_FILE ({missing}): cannot read the file "
        "(No such file or directory)\n"
    )
    assert not (tmp_path / "ketaclinic.db").exists()  # not the default database instead


def test_an_unreadable_database_url_file_stops_the_web_app_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL_FILE", str(tmp_path))  # a folder
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert str(stopped.value) == (
        f"KETACLINIC_DATABASE_URL_FILE ({tmp_path}): cannot read the file (Is a directory)"
    )


def test_both_the_url_and_its_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", url)
    monkeypatch.setenv("KETACLINIC_DATABASE_URL_FILE", str(secret_file(tmp_path, "url", url)))
    assert main(["user", "token", "nurse"]) == 2
    assert "are both set: set only one of them" in capsys.readouterr().err
    assert not (tmp_path / "clinic.db").exists()


def test_a_backup_and_its_check_with_the_key_and_the_url_from_files(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with open_clinic(database_url):
        pass
    monkeypatch.setenv(
        "KETACLINIC_DATABASE_URL_FILE", str(secret_file(tmp_path, "url", database_url))
    )
    monkeypatch.setenv("KETACLINIC_BACKUP_KEY_FILE", str(secret_file(tmp_path, "key", KEY)))
    backup = tmp_path / "clinic.kcb"
    assert main(["backup", str(backup)]) == 0, capsys.readouterr().err
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert f"backed up the {kind} database" in capsys.readouterr().out
    # The same key, given the other way, reads it: the file held exactly the key.
    monkeypatch.delenv("KETACLINIC_BACKUP_KEY_FILE")
    monkeypatch.setenv("KETACLINIC_BACKUP_KEY", KEY)
    assert main(["restore", "--check", str(backup)]) == 0
    assert "intact" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the file (No such file or directory)"),
        ("", "the file is empty"),
        ("not base64 at all!", "is not valid base64"),
        (base64.b64encode(bytes(16)).decode(), "decodes to 16 bytes, not 32"),
    ],
)
def test_a_key_file_that_cannot_be_used_is_refused_with_exit_2(
    content: str | None,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(source)
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content, encoding="utf-8")
    monkeypatch.setenv("KETACLINIC_BACKUP_KEY_FILE", str(key_file))
    backup = tmp_path / "never.kcb"
    assert main(["backup", str(backup), "--database", source]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: KETACLINIC_BACKUP_KEY_FILE ({key_file})")
    assert message in error
    assert not backup.exists()


# ---- nothing secret in the repository -----------------------------------------------------------

# Hosts that cannot exist (RFC 2606, RFC 6761): a password for one is an example, not a secret.
EXAMPLE_HOSTS = re.compile(r"(?:^|\.)(?:example(?:\.com|\.org|\.net)?|test|invalid|localhost)$")
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://([^\s:/@'\"]+):([^\s@/'\"]+)@([^\s/:'\"?#]+)")
LOOKS_SECRET = {
    "a private key": re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY"),
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "an AWS secret key": re.compile(r"aws_secret_access_key\s*[=:]\s*\S{16,}", re.IGNORECASE),
    "a backup key": re.compile(r"KETACLINIC_BACKUP_KEY\s*[=:]\s*[\"']?[A-Za-z0-9+/]{16,}"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
}
SECRET_FILES = re.compile(r"(?:^|/)(?:\.env(?:\..+)?|id_rsa|id_ed25519|.*\.(?:pem|key|p12|pfx))$")


def secrets_in(name: str, text: str) -> list[str]:
    found = [f"{name}: {what}" for what, pattern in LOOKS_SECRET.items() if pattern.search(text)]
    for match in URL_PASSWORD.finditer(text):
        if not EXAMPLE_HOSTS.search(match.group(3).lower()):
            found.append(f"{name}: a password in the URL for {match.group(3)}")
    if SECRET_FILES.search(name):
        found.append(f"{name}: a file of the kind that holds keys")
    return found


def test_the_secret_scan_finds_what_it_looks_for() -> None:
    """The scan must be able to fail (the samples are put together here, so that this file
    itself holds none)."""
    begin = "-----BEGIN "
    samples = {
        "key.txt": begin + "RSA PRIVATE KEY-----\nMIIE",
        "ssh.txt": begin + "OPENSSH PRIVATE KEY-----",
        "aws.txt": "id = AKIA" + "IOSFODNN7EXAMPLE",
        "aws.cfg": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
        "backup.env.txt": "KETACLINIC_BACKUP_KEY=" + KEY,
        "cron.txt": "KETACLINIC_BACKUP_KEY='" + KEY + "'",
        "url.txt": "KETACLINIC_DATABASE_URL=postgresql://clinic:" + "hunter22@db.internal/k",
        "mysql.txt": "mysql://root:" + "toor@10.0.0.5/clinic",
        ".env": "",
        "deploy/server.pem": "",
    }
    for name, text in samples.items():
        assert secrets_in(name, text), name
    fine = {
        "README.md": 'export KETACLINIC_BACKUP_KEY="$(openssl rand -base64 32)"',
        "conftest.py": 'f"postgresql+psycopg://postgres@127.0.0.1:{port}"',
        "test_x.py": "postgresql+psycopg://clinic:" + "correct-horse@db.example:5432/k",
        "docs.md": "postgresql+psycopg://user@host/ketaclinic",
        "backup.py": 'KEY_VARIABLE = "KETACLINIC_BACKUP_KEY"',
    }
    for name, text in fine.items():
        assert secrets_in(name, text) == [], name


def repository_files() -> list[str]:
    """Tracked files, and new ones not ignored (about to be committed)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an unpacked release): nothing to scan")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_no_file_in_the_repository_holds_a_secret() -> None:
    names = repository_files()
    assert "pyproject.toml" in names and "README.md" in names
    found = []
    for name in names:
        path = ROOT / name
        if not path.is_file():
            continue  # listed but deleted in the working tree
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (images, fonts): no text secret to read
        found += secrets_in(name, data.decode("utf-8", errors="replace"))
    assert found == []
