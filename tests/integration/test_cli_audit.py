"""``sealgate audit show`` filters and output, and ``audit verify``, over a real store holding
records written before provenance was recorded and after."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main
from controller.cli.audit import print_records
from controller.cli.output import Format
from controller.crypto import load_public_key, seal
from controller.keyring import KEK_FILE_NAME, KEY_DIR_VARIABLE, Keyring, LocalKekFile
from controller.model import SecretChange
from controller.store import ApprovalRecord, Store
from controller.store.types import ChangeReason, CountedApproval, PullRequestOrigin

ENV = "production"
URL = "https://github.example/acme/requests/pull/12"
LONG_REASON = "rotate after the vendor notice; " + "x" * 300 + "\nsecond line"
NOW = datetime.now(UTC)
OLD_FIELDS = {
    "changeId",
    "environment",
    "pullRequest",
    "headSha",
    "approvedBy",
    "mergedBy",
    "bypassReason",
    "bypassedBy",
    "secrets",
}


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Four records: an old-style apply 3 days ago, a key event, a new apply 2 hours ago
    (with a bypass), and a rollback 1 hour ago."""
    keys = tmp_path / "keys"
    kek = LocalKekFile(keys / KEK_FILE_NAME, create=True)
    keyring = Keyring(keys, kek)
    info = keyring.init(ENV)
    moments = iter(
        [NOW - timedelta(days=3), NOW - timedelta(days=2), NOW - timedelta(hours=2)]
        + [NOW - timedelta(hours=1)] * 5
    )
    path = tmp_path / "store"

    def change(secret: str, value: bytes, reason: str) -> SecretChange:
        sealed = seal(
            value,
            key_id=info.key_id,
            public_key=load_public_key(info.public_key, where="test"),
            environment=ENV,
            secret=secret,
            key="password",
        )
        return SecretChange(
            name="c", environment=ENV, secret=secret, reason=reason, set={"password": sealed}
        )

    with Store(path, kek, keyring, clock=lambda: next(moments)) as store:
        old = ApprovalRecord(f"{ENV}/pr-11", 11, "a" * 40, ("olga",), "sealgate[bot]")
        store.apply(f"{ENV}/pr-11", [change("web/session", b"old-value-1", "old")], old)
        store.record_key_event(ENV, "rotate", "k2", actor="ops")
        origin = PullRequestOrigin(
            repository="acme/requests",
            number=12,
            url=URL,
            head_sha="b" * 40,
            requester="alice",
            approvals=(CountedApproval("bob", "production", "review"),),
            merged_by="sealgate[bot]",
            merge_trigger="bypass",
            merge_requested_by="alice",
            bypassed_by="alice",
            bypass_reason="INC-7 payments down",
        )
        new = ApprovalRecord(
            f"{ENV}/pr-12",
            12,
            "b" * 40,
            ("bob",),
            "sealgate[bot]",
            bypass_reason="INC-7 payments down",
            bypassed_by="alice",
            origin=origin,
            reasons=(ChangeReason(f"{ENV}/payments/db", LONG_REASON, "changes/x.yaml"),),
        )
        store.apply(f"{ENV}/pr-12", [change("payments/db", b"new-value-2", LONG_REASON)], new)
        store.rollback(ENV, "payments/db", 1, actor="carol", reason="revert", origin=origin)
    return path


def run(store_dir: Path, *args: str) -> list[str]:
    runner = CliRunner(env={KEY_DIR_VARIABLE: str(store_dir.parent / "keys")})
    result = runner.invoke(main, ["audit", "show", "--store", str(store_dir), *args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def events(store_dir: Path, *args: str) -> list[str]:
    """The (seq, event) of every record ``show -o json`` prints with ``args``."""
    lines = run(store_dir, "-o", "json", *args)
    return [f"{json.loads(line)['seq']} {json.loads(line)['event']}" for line in lines]


def fails(store_dir: Path, *args: str) -> str:
    runner = CliRunner(env={KEY_DIR_VARIABLE: str(store_dir.parent / "keys")})
    result = runner.invoke(main, ["audit", "show", "--store", str(store_dir), *args])
    assert result.exit_code == 2, result.output
    return result.output


ALL = ["1 apply", "2 key", "3 apply", "4 bypass", "5 rollback"]


def test_verify_passes_over_old_and_new_records(store_dir: Path) -> None:
    runner = CliRunner(env={KEY_DIR_VARIABLE: str(store_dir.parent / "keys")})
    result = runner.invoke(main, ["audit", "verify", "--store", str(store_dir)])
    assert result.exit_code == 0, result.output
    assert "ok: 5 records" in result.stdout
    first, *_ = (json.loads(line) for line in run(store_dir, "-o", "json"))
    # Written without provenance, the record has exactly the fields records always had.
    assert set(first) - {"seq", "time", "event", "prev", "hash"} == OLD_FIELDS
    assert events(store_dir) == ALL


def test_secret_filter_is_exact_or_a_whole_segment_prefix(store_dir: Path) -> None:
    db = events(store_dir, "--secret", "production/payments/db")
    assert db == ["3 apply", "4 bypass", "5 rollback"]
    assert events(store_dir, "--secret", "production/payments/") == [
        "3 apply",
        "4 bypass",
        "5 rollback",
    ]
    assert events(store_dir, "--secret", "production/web/session") == ["1 apply"]
    assert events(store_dir, "--secret", "production") == ALL
    assert events(store_dir, "--secret", "production/pay") == []
    assert events(store_dir, "--secret", "production/web", "--secret", "production/payments") == [
        "1 apply",
        "3 apply",
        "4 bypass",
        "5 rollback",
    ]


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        ("alice", ["3 apply", "4 bypass", "5 rollback"]),  # requester and bypasser
        ("bob", ["3 apply", "4 bypass", "5 rollback"]),  # approver
        ("olga", ["1 apply"]),  # approver in a record from before provenance
        ("carol", ["5 rollback"]),  # actor
        ("ops", ["2 key"]),
        ("SEALGATE[BOT]", ["1 apply", "3 apply", "4 bypass", "5 rollback"]),  # merger
        ("@bob", ["3 apply", "4 bypass", "5 rollback"]),
        ("nobody", []),
    ],
)
def test_person_filter_matches_every_role(
    store_dir: Path, person: str, expected: list[str]
) -> None:
    assert events(store_dir, "--person", person) == expected


def test_time_filters_take_rfc3339_and_spans(store_dir: Path) -> None:
    assert events(store_dir, "--since", "24h") == ["3 apply", "4 bypass", "5 rollback"]
    assert events(store_dir, "--since", "90m") == ["5 rollback"]
    assert events(store_dir, "--until", "1d") == ["1 apply", "2 key"]
    day_before = (NOW - timedelta(days=2, hours=12)).isoformat().replace("+00:00", "Z")
    assert events(store_dir, "--since", "7d", "--until", day_before) == ["1 apply"]
    assert events(store_dir, "--since", (NOW - timedelta(days=4)).date().isoformat()) == ALL
    assert "neither RFC 3339" in fails(store_dir, "--since", "yesterday")


def test_event_filter_takes_lists_and_aliases_and_refuses_unknown_names(store_dir: Path) -> None:
    assert events(store_dir, "--event", "applied") == ["1 apply", "3 apply"]
    assert events(store_dir, "--event", "bypass,rollback") == ["4 bypass", "5 rollback"]
    assert events(store_dir, "--event", "key", "--event", "apply", "--person", "bob") == ["3 apply"]
    assert "no such event aply" in fails(store_dir, "--event", "aply")


def test_json_is_one_camel_case_object_per_line_linking_to_the_pull_request(
    store_dir: Path,
) -> None:
    lines = run(store_dir, "-o", "json")
    assert len(lines) == 5
    records = [json.loads(line) for line in lines]
    camel = re.compile(r"^[a-z][a-zA-Z0-9]*$")
    for record in records:
        assert all(camel.match(key) for key in record), sorted(record)
    new_apply, bypass, rollback = records[2:]
    for record in (new_apply, bypass, rollback):
        assert record["pullRequestUrl"] == URL
        assert record["requester"] == "alice"
    assert new_apply["reasons"][0]["reason"] == LONG_REASON
    assert new_apply["approvals"] == [{"login": "bob", "policy": "production", "step": "review"}]
    assert bypass["by"] == "alice"
    # A rollback opens no value a bypass reason could be checked against: only the apply
    # (where it was checked) keeps it.
    assert new_apply["bypassReason"] == "INC-7 payments down"
    assert rollback["bypassedBy"] == "alice"
    assert "bypassReason" not in rollback
    runner = CliRunner(env={KEY_DIR_VARIABLE: str(store_dir.parent / "keys")})
    legacy = runner.invoke(main, ["audit", "show", "--json", "--store", str(store_dir)])
    assert legacy.exit_code == 0
    assert legacy.stdout.splitlines() == lines
    assert "deprecated" in legacy.stderr
    assert "--json" not in runner.invoke(main, ["audit", "show", "--help"]).stdout


def test_piped_table_has_whole_values_one_row_per_record(store_dir: Path) -> None:
    header, *rows = run(store_dir)
    assert header.split()[:4] == ["SEQ", "TIME", "EVENT", "SUBJECT"]
    assert len(rows) == 5
    assert rows[2].startswith("3 ")
    assert LONG_REASON.replace("\n", " ") in rows[2]
    for row in rows[2:]:
        assert URL in row
    assert "requested alice; approved bob (production/review)" in rows[2]
    assert "#11" in rows[0]  # an old record still points at its pull request by number


def test_every_record_is_one_table_row_whatever_its_reason_holds(
    store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(
        store_dir,
        LocalKekFile(store_dir.parent / "keys" / KEK_FILE_NAME),
        Keyring(store_dir.parent / "keys", LocalKekFile(store_dir.parent / "keys" / KEK_FILE_NAME)),
    ) as store:
        records = list(store.audit_records())
    print_records(records, Format.TABLE)
    shown = capsys.readouterr().out
    assert "rotate after the vendor notice; xxx" in shown
    assert len(shown.splitlines()) == 6
    assert not any(ch in shown for ch in "\x1b\r\t")
