"""``sealgate sandbox``: the whole flow on this machine, with no GitHub account and no cluster.

Starts the loopback GitHub and Kubernetes API servers, seeds them (``controller.sandbox.world``),
runs ``sealgate run`` against them as a child process, plays the story
(``controller.sandbox.story``) and prints each step once it is verified from the servers'
state. Exits 1 when a step does not happen. ``--serve`` keeps everything running afterwards.
"""

from __future__ import annotations

import signal
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

import click
import requests
from rich.console import Console
from rich.markup import escape

from controller.cli.exit_codes import ExitCode, epilog
from controller.errors import SealgateError
from controller.sandbox.github_server.latency import parse_latency
from controller.sandbox.runner import ControllerProcess
from controller.sandbox.story import DEFAULT_TIMEOUT, Narrator, Step, StoryFailed, StoryResult, play
from controller.sandbox.world import CLUSTERS, OWNER, REPO, REPOSITORY, World, build_world
from controller.sandbox.world_agents import AGENT


def _narrator(console: Console) -> Narrator:
    def narrate(step: Step) -> None:
        console.print(f"[bold green]✓[/] {escape(step.title)}")
        for detail in step.details:
            console.print(f"    [dim]{escape(detail)}[/]")

    return narrate


def _look_around(
    console: Console, world: World, result: StoryResult, *, serving: bool, files_kept: bool
) -> None:
    """Where to look, only where there is still something to see: without --serve every
    server stops at once, and a temporary working directory is removed."""
    controller = world.controller_url
    servers = [
        ("GitHub API", world.github.url),
        ("pull request", f"{world.github.url}/repos/{REPOSITORY}/pulls/{result.number}"),
        (
            "access request",
            f"{world.github.url}/repos/{REPOSITORY}/pulls/{result.access.number}",
        ),
        ("request status", f"{controller}/v1/requests/{REPOSITORY}/{result.number}"),
        ("metrics", f"{controller}/metrics"),
        *((f"cluster {name}", server.url) for name, server in world.clusters.items()),
        ("kubectl", world.kubectl_hint()),
    ]
    files = [
        ("controller logs", str(world.workdir / "logs")),
        ("store", f"sealgate store ls --store {world.store} --key-dir {world.keys}"),
        ("grants", f"sealgate access ls --all --store {world.store} --key-dir {world.keys}"),
    ]
    console.print()
    if serving:
        _rows(console, "Look around", [*servers, *files])
        return
    console.print(
        "[bold]Everything has stopped.[/] Run [bold]sealgate sandbox --serve[/] to look "
        "around the servers (the pull request, the cluster, the metrics)."
    )
    if files_kept:
        _rows(console, f"Kept in {world.workdir}", files)
    else:
        console.print(
            "The store, keys and logs were in a temporary directory, which is removed now: "
            "add [bold]--workdir DIR[/] to keep them."
        )


def _rows(console: Console, heading: str, rows: list[tuple[str, str]]) -> None:
    console.print(f"[bold]{escape(heading)}[/]")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        console.print(f"  {name.ljust(width)}  {escape(value)}")


def _serve(console: Console, world: World, controller: ControllerProcess) -> None:
    # Plain lines, one per variable, for scripts (`eval`-able when the URLs have no spaces).
    print(f"GITHUB_API={world.github.url}", flush=True)
    print(f"SEALGATE_API={world.controller_url}", flush=True)
    print(f"KUBE_API={world.cluster_for('production').url}", flush=True)
    print(f"REPOSITORY={OWNER}/{REPO}", flush=True)
    print(f"GITHUB_TOKENS_FILE={world.tokens_file}", flush=True)
    print(f"KUBECONFIG={world.kubeconfig}", flush=True)
    # agents/payments-bot's ServiceAccount token: a script asks /v1/access-requests with it.
    print(f"AGENT_TOKEN_FILE={world.agent_tokens[AGENT]}", flush=True)
    console.print("[dim]Serving until interrupted (Ctrl-C).[/]")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(1.0):
            if not controller.alive:
                console.print("[red]sealgate run exited; stopping.[/]")
                return
    except KeyboardInterrupt:
        return


def run_sandbox(
    workdir: Path,
    console: Console,
    *,
    serve: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    github_latency: float = 0.0,
    files_kept: bool = True,
) -> int:
    """Build the world, run the controller and the story; the exit status."""
    narrate = _narrator(console)
    with ExitStack() as stack:
        console.print(f"[bold]sealgate sandbox[/] in {escape(str(workdir))}")
        world = build_world(workdir, github_latency=github_latency)
        stack.callback(world.stop)
        clusters = ", ".join(f"{name} {world.clusters[name].url}" for name in CLUSTERS.values())
        narrate(
            Step(
                f"loopback GitHub at {world.github.url}, clusters {clusters}",
                (
                    f"repository {REPOSITORY}: policies/ and environments production, staging",
                    "people: dev1 (developer), alice and bob (acme/sre), carol "
                    "(acme/security), lead (acme/platform-leads)",
                ),
            )
        )
        controller = ControllerProcess(world.config, workdir / "logs", world.controller_url)
        stack.callback(controller.stop)
        try:
            controller.start()
        except SealgateError as exc:
            console.print(f"[bold red]✗[/] sealgate run did not start: {escape(str(exc))}")
            return 1
        narrate(Step(f"sealgate run is up (pid {controller.pid}) at {world.controller_url}"))
        try:
            result = play(world, narrate, timeout=timeout)
        except StoryFailed as exc:
            console.print(f"[bold red]✗[/] {escape(exc.step)}: {escape(exc.reason)}")
            console.print(f"    [dim]controller logs: {escape(str(controller.stderr_log))}[/]")
            return 1
        except requests.RequestException as exc:
            # A person's request to the loopback GitHub failed: the story cannot go on.
            console.print(
                f"[bold red]✗[/] a request to the loopback GitHub failed: {escape(str(exc))}"
            )
            return 1
        _look_around(console, world, result, serving=serve, files_kept=files_kept)
        if serve:
            _serve(console, world, controller)
    return 0


@click.command(
    "sandbox",
    epilog=epilog(
        (ExitCode.OK, "every step of the story happened"),
        (ExitCode.ERROR, "a step did not happen (it is named), or the controller did not start"),
    ),
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the servers' repositories, the store, keys and logs here (default: a "
    "temporary directory, removed afterwards).",
)
@click.option("--serve", is_flag=True, help="Keep everything running until interrupted.")
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds each step may take before the sandbox gives up on it.",
)
@click.option(
    "--github-latency",
    default="0ms",
    show_default=True,
    help="Delay every answer of the loopback GitHub (e.g. 100ms, as api.github.com's), "
    "to feel a real installation's speed.",
)
def sandbox(workdir: Path | None, serve: bool, timeout: float, github_latency: str) -> None:
    """Play the whole flow on loopback GitHub and Kubernetes servers and print it."""
    try:
        latency = parse_latency(github_latency)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--github-latency") from exc
    console = Console(highlight=False, soft_wrap=True)
    if workdir is not None:
        if workdir.exists() and any(workdir.iterdir()):
            # A second world cannot reuse the first one's keys, store and repositories.
            raise click.ClickException(f"{workdir} is not empty; give a new or empty --workdir")
        status = run_sandbox(
            workdir.resolve(), console, serve=serve, timeout=timeout, github_latency=latency
        )
    else:
        with tempfile.TemporaryDirectory(prefix="sealgate-sandbox-") as temporary:
            status = run_sandbox(
                Path(temporary),
                console,
                serve=serve,
                timeout=timeout,
                github_latency=latency,
                files_kept=False,
            )
    if status:
        raise SystemExit(status)
