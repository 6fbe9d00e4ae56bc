"""``ponder sandbox``: check that the jail for model-written code holds, and run a file in it.

``ponder sandbox check`` runs the self-test (the positive control and every escape probe) in each tier
this machine supports, prints each verdict, and exits 0 only when every checked tier holds.
``ponder sandbox run FILE.py`` runs one file in a jail: this command's stdin is the program's stdin,
its stdout and stderr come back as they are, and its exit status becomes ponder's.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from ponder.errors import SandboxUnavailableError
from ponder.sandbox import Limits, ProbeResult, Sandbox, SelfTestReport, self_test, tier_status
from ponder.sandbox.jail import TIERS, TierName

from .render import err_console, write_stdout

__all__ = ["sandbox"]


@click.group()
def sandbox() -> None:
    """Run model-written Python in a jail, and check that the jail holds."""


def _print_probe(result: ProbeResult) -> None:
    verdict = "[bold red]ESCAPED[/]" if result.escaped else "[green]held[/]   "
    line = f"  {verdict} {result.name:<18} {result.detail[:160]}"
    err_console.print(line, markup=True, highlight=False, soft_wrap=True)


async def _check(tiers: tuple[TierName, ...], quick: bool, as_json: bool) -> list[SelfTestReport]:
    reports = []
    for tier in tiers:
        status = await tier_status(tier)
        if not status.available:
            err_console.print(f"tier {tier}: unavailable: {status.reason}", markup=False, highlight=False)
            continue
        err_console.print(f"tier {tier}: running the positive control and the escape probes", markup=False)
        report = await self_test(tier, quick=quick, on_probe=None if as_json else _print_probe)
        reports.append(report)
        escaped = len(report.escaped)
        summary = f"tier {tier}: control {'passed' if report.control_passed else 'FAILED'}; "
        summary += f"{escaped} of {len(report.probes)} probes escaped; {report.cgroups}"
        err_console.print(summary, markup=False, highlight=False, soft_wrap=True)
    return reports


@sandbox.command()
@click.option("--tier", type=click.Choice(TIERS), default=None, help="Check this tier only.")
@click.option("--quick", is_flag=True, help="Leave out the resource probes (fork, memory and CPU bombs...).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON on stdout.")
def check(tier: TierName | None, quick: bool, as_json: bool) -> None:
    """Run the escape probes in every tier this machine supports (exit 0 if the jail holds)."""
    reports = asyncio.run(_check((tier,) if tier else TIERS, quick, as_json))
    if not reports:
        raise SandboxUnavailableError(
            "no sandbox tier works on this machine, so model-written code is refused"
        )
    if as_json:
        rows = [
            {
                "tier": r.tier,
                "control_passed": r.control_passed,
                "cgroups": r.cgroups,
                "probes": [{"name": p.name, "escaped": p.escaped, "detail": p.detail} for p in r.probes],
            }
            for r in reports
        ]
        write_stdout(json.dumps(rows, indent=2) + "\n")
    if not all(r.holds for r in reports):
        sys.exit(1)


@sandbox.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tier", type=click.Choice(TIERS), default=None, help="Use this tier (default: the best one).")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Wall-clock limit in seconds.")
@click.option("--skip-self-test", is_flag=True, help="Do not run the start-up escape probes first.")
def run(file: Path, tier: TierName | None, timeout_s: float | None, skip_self_test: bool) -> None:
    """Run FILE in a jail; stdin is passed in, and its exit code becomes ponder's."""
    code = file.read_text()
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    limits = Limits(wall_s=timeout_s) if timeout_s else Limits()

    async def go() -> int:
        async with await Sandbox.start(limits, pool_size=1, tier=tier, self_test=not skip_self_test) as box:
            result = await box.run(code, stdin)
        write_stdout(result.stdout)
        sys.stderr.write(result.stderr)
        if result.killed_reason:
            note = f"[sandbox: killed ({result.killed_reason}) after {result.duration_s:.2f} s]"
            err_console.print(note, style="yellow", markup=False, highlight=False)
        return result.exit_code

    sys.exit(asyncio.run(go()))
