"""A controller installation on disk for preflight and KEK tests: a key directory with its
KEK and an environment's keys, a store holding one secret, a kubeconfig and the
configuration file naming them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import Alphabet, GenerateSpec, SecretChange
from controller.run.checksum_key import checksum_key
from controller.store import ApprovalRecord, Store

ENV = "production"
SECRET = "payments/db"
TOKEN_ENV = {"GH_TOKEN": "tok-123", "HOOK_SECRET": "hook-456"}


@dataclass
class Installation:
    root: Path
    config: Path
    key_dir: Path
    kek_file: Path
    store: Path
    kubeconfig: Path
    public_key: str
    key_id: str

    def kek(self) -> LocalKekFile:
        return LocalKekFile(self.kek_file)

    def open_store(self, kek: LocalKekFile | None = None) -> Store:
        kek = kek or self.kek()
        return Store(self.store, kek, Keyring(self.key_dir, kek))


def kubeconfig_text(server: str, *, contexts: tuple[str, ...] = ("loopback",)) -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": server}} for c in contexts],
        "users": [{"name": f"{c}-admin", "user": {"token": "loopback-token"}} for c in contexts],
        "contexts": [
            {"name": c, "context": {"cluster": c, "user": f"{c}-admin"}} for c in contexts
        ],
        "current-context": contexts[0],
    }
    return yaml.safe_dump(document, sort_keys=False)


def config_text(
    *,
    github_url: str = "https://api.github.com",
    kubeconfig: str = "kube/config",
    extra: str = "",
) -> str:
    return f"""\
apiVersion: sealgate.dev/v1
kind: ControllerConfig
server:
  listen: 127.0.0.1:0
github:
  baseUrl: {github_url}
  repository: acme/requests
  token: {{fromEnv: GH_TOKEN}}
  webhookSecret: {{fromEnv: HOOK_SECRET}}
store:
  path: store
keys:
  dir: keys
clusters:
  - name: local
    kubeconfig: {kubeconfig}
{extra}"""


def make_installation(
    root: Path, *, server: str = "http://127.0.0.1:9", with_secret: bool = True
) -> Installation:
    key_dir = root / "keys"
    kek = LocalKekFile(key_dir / KEK_FILE_NAME, create=True)
    keyring = Keyring(key_dir, kek)
    info = keyring.init(ENV)
    checksum_key(key_dir, kek)
    kubeconfig = root / "kube" / "config"
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig.write_text(kubeconfig_text(server))
    moments = (datetime(2026, 11, 21, 10, 0, tzinfo=UTC) + timedelta(seconds=i) for i in range(99))
    with Store(root / "store", kek, keyring, clock=lambda: next(moments)) as store:
        if with_secret:
            for number in (1, 2):
                change = SecretChange(
                    name="c",
                    environment=ENV,
                    secret=SECRET,
                    reason="test",
                    generate={"password": GenerateSpec(32, Alphabet.URLSAFE)},
                )
                store.apply(
                    f"{ENV}/pr-{number}",
                    [change],
                    ApprovalRecord(
                        change_id=f"{ENV}/pr-{number}",
                        pull_request=number,
                        head_sha="a" * 40,
                        approved_by=("bob",),
                        merged_by="carol",
                    ),
                )
    config = root / "sealgate.yaml"
    config.write_text(config_text())
    return Installation(
        root=root,
        config=config,
        key_dir=key_dir,
        kek_file=key_dir / KEK_FILE_NAME,
        store=root / "store",
        kubeconfig=kubeconfig,
        public_key=info.public_key,
        key_id=info.key_id,
    )
