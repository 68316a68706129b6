"""Clone, commit and push to the loopback GitHub with the real git client, as any account.

`Checkout.commit` takes any author and committer identity (that is git metadata, which an
attacker writes freely), `Co-authored-by:` trailers, and an optional SSH signing key.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.sandbox.github_server import GitHubApiServer


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }


@dataclass
class Checkout:
    path: Path
    home: Path

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=_env(self.home),
            capture_output=True,
            text=True,
            check=check,
        )

    def switch(self, branch: str, *, start: str | None = None) -> None:
        if start is None:
            self.git("checkout", "-q", branch)
        else:
            self.git("checkout", "-q", "-B", branch, start)

    def commit(
        self,
        files: Mapping[str, bytes],
        message: str,
        *,
        author: Identity,
        committer: Identity | None = None,
        co_authors: Sequence[Identity] = (),
        sign_key: Path | None = None,
    ) -> str:
        for name, data in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.git("add", "--", name)
        who = committer or author
        text = message
        if co_authors:
            text += "\n\n" + "\n".join(f"Co-authored-by: {c.name} <{c.email}>" for c in co_authors)
        args = [
            "-c",
            f"user.name={who.name}",
            "-c",
            f"user.email={who.email}",
        ]
        if sign_key is not None:
            args += ["-c", "gpg.format=ssh", "-c", f"user.signingkey={sign_key}"]
        commit = [*args, "commit", "-q", "-m", text, f"--author={author.name} <{author.email}>"]
        if sign_key is not None:
            commit.append("-S")
        self.git(*commit)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(self, *refspecs: str, force: bool = False) -> subprocess.CompletedProcess[str]:
        """`git push origin <refspecs>`; the result is returned, failures are not raised."""
        args = ["push", "-q", "origin", *refspecs]
        if force:
            args.insert(1, "--force")
        return self.git(*args, check=False)


def clone(
    server: GitHubApiServer, owner: str, repo: str, dest: Path, token: str | None
) -> Checkout:
    """A working clone whose `origin` authenticates with `token` (None: anonymous)."""
    home = dest.parent / f"{dest.name}-home"
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "clone", "-q", server.git_url(owner, repo, token), str(dest)],
        env=_env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    return Checkout(dest, home)


def ssh_key(directory: Path, name: str) -> tuple[Path, str]:
    """A new ed25519 key: the private key file and the public key line."""
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path, path.with_suffix(".pub").read_text().strip()
