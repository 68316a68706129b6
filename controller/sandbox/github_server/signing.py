"""Commit signatures: GitHub signs what it commits itself, and checks what is pushed to it.

GitHub signs merges, web edits and contents-API commits with its own key, shown as the
`web-flow` account's; here that key is an SSH key made when the server starts and registered
as web-flow's signing key. Pushed commits are checked against the SSH signing keys registered
for the accounts (`ssh-keygen -Y`): a signature is `valid` only when the key that made it is
registered to the account the committer email links to. PGP and X.509 signatures cannot be
checked here (no GPG keys can be registered), so they come out `unknown_key`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from controller.sandbox.github_server.state import World, now

SSH_ARMOR = "-----BEGIN SSH SIGNATURE-----"
PGP_ARMOR = "-----BEGIN PGP SIGNATURE-----"
NAMESPACE = "git"  # the namespace git signs commits under


@dataclass(frozen=True)
class Verification:
    verified: bool
    reason: str
    signature: str | None
    payload: str | None
    verified_at: datetime | None


@dataclass(frozen=True)
class SignedObject:
    signature: str | None
    payload: str


def split_signature(raw: str) -> SignedObject:
    """A raw commit object -> its `gpgsig` header value and the bytes that were signed."""
    head, sep, message = raw.partition("\n\n")
    kept: list[str] = []
    signature: list[str] = []
    in_sig = False
    for line in head.split("\n"):
        if line.startswith("gpgsig "):
            in_sig = True
            signature.append(line[len("gpgsig ") :])
        elif in_sig and line.startswith(" "):
            signature.append(line[1:])
        else:
            in_sig = False
            kept.append(line)
    payload = "\n".join(kept) + sep + message
    return SignedObject("\n".join(signature) + "\n" if signature else None, payload)


def _run(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise RuntimeError("ssh-keygen is not installed")
    return subprocess.run(  # noqa: S603 - fixed ssh-keygen arguments, no shell
        [keygen, *args], input=stdin, capture_output=True, check=False, timeout=30
    )


class Signer:
    """GitHub's own signing key, and the verification of commit signatures (memoized)."""

    def __init__(self, world: World, key_dir: Path) -> None:
        self.world = world
        self.key_dir = key_dir
        self._lock = threading.Lock()
        self._key: Path | None = None
        self._memo: dict[tuple[str, tuple[str, ...]], Verification] = {}

    @property
    def key_path(self) -> Path:
        """The private key GitHub signs with, made on first use and registered for web-flow."""
        with self._lock:
            if self._key is None:
                self.key_dir.mkdir(parents=True, exist_ok=True)
                path = self.key_dir / "web-flow-signing-key"
                if not path.exists():
                    made = _run(
                        ["-q", "-t", "ed25519", "-N", "", "-C", "GitHub", "-f", str(path)], b""
                    )
                    if made.returncode != 0:
                        raise RuntimeError("ssh-keygen could not make GitHub's signing key")
                public = path.with_suffix(".pub").read_text().strip()
                with self.world.lock:
                    flow = self.world.add_account("web-flow", "User")
                    if public not in flow.signing_keys:
                        flow.signing_keys.append(public)
                self._key = path
            return self._key

    def verify(self, sha: str, raw: str, committer_email: str) -> Verification:
        with self.world.lock:
            keys = tuple(
                f"{u.login} {k}" for u in self.world.users.values() for k in u.signing_keys
            )
        memo_key = (sha, keys)
        with self._lock:
            known = self._memo.get(memo_key)
        if known is not None:
            return known
        result = self._verify(split_signature(raw), committer_email, keys)
        with self._lock:
            return self._memo.setdefault(memo_key, result)

    def _verify(
        self, signed: SignedObject, committer_email: str, keys: tuple[str, ...]
    ) -> Verification:
        signature = signed.signature
        if signature is None:
            return Verification(False, "unsigned", None, None, None)

        def unverified(reason: str) -> Verification:
            return Verification(False, reason, signature, signed.payload, None)

        if signature.startswith(PGP_ARMOR):
            return unverified("unknown_key")
        if not signature.startswith(SSH_ARMOR):
            return unverified("unknown_signature_type")
        payload = signed.payload.encode()
        with tempfile.TemporaryDirectory() as tmp:
            sig_file = Path(tmp) / "commit.sig"
            sig_file.write_text(signature)
            sane = _run(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig_file)], payload)
            if sane.returncode != 0:
                text = sane.stderr.decode(errors="replace").lower()
                return unverified("malformed_signature" if "parse" in text else "invalid")
            allowed = Path(tmp) / "allowed_signers"
            allowed.write_text("".join(line + "\n" for line in keys))
            found = _run(["-Y", "find-principals", "-s", str(sig_file), "-f", str(allowed)], b"")
            owners = found.stdout.decode().split() if found.returncode == 0 else []
            if not owners:
                return unverified("unknown_key")
            committer = self.world.account_for_email(committer_email)
            if committer is None:
                return unverified("no_user")
            if committer.login not in owners:
                return unverified("bad_email")
            checked = _run(
                [
                    "-Y",
                    "verify",
                    "-f",
                    str(allowed),
                    "-I",
                    committer.login,
                    "-n",
                    NAMESPACE,
                    "-s",
                    str(sig_file),
                ],
                payload,
            )
            if checked.returncode != 0:
                return unverified("invalid")
        return Verification(True, "valid", signature, signed.payload, now())
