"""`aftm status`: each service up or down and what it says about itself; never fails on one,
but exits EXIT_DOWN when any service did not answer, so a script can tell.

The executor's report carries its last reconciliation (book.py's summary, None when it has not
run yet), shown as one line under the table. Strategy and executor report the stored records
they quarantined at their start (records they could not read), shown when there are any.

With several strategy shards or executors listed, each has a row of its own: "strategy s1"
(its shard's name, and the symbols it owns), "executor 1" (with the account it trades).

Below the services, the market: the session now and the next open or close by TAIFEX's hours
and holidays (aftm.market, read on the market clock: AFTM_MARKET_CLOCK_START fakes it), worked
out here, so it shows even while every service is down. `--json` has it under "market".
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar, cast

from aftm.domain import limits
from aftm.errors import AftmError, InvalidInput
from aftm.market.calendar import load_calendar
from aftm.market.clock import market_clock
from aftm.wire.protocol import (
    ExecutorStatus,
    GatewayHealth,
    GetExecutorStatus,
    GetHealth,
    GetShard,
    ShardInfo,
)
from aftm_console.book import Summary, headline, summary
from aftm_console.commands.common import live
from aftm_console.contracts import describe_market, market_outlook, outlook_json
from aftm_console.errors import EXIT_DOWN, ServiceDown, ServiceRefused
from aftm_console.paging import every_condition
from aftm_console.parsing import Subparsers, add_json_flag
from aftm_console.render import say, say_json, table
from aftm_console.services import Service, Services

T = TypeVar("T")
NS_PER_S = 1_000_000_000
Report = dict[str, object]
# Where each service keeps what it quarantined: a table of its own store file.
QUARANTINE_HINT = {
    "strategy": "table quarantine in the strategy's store",
    "executor": "table quarantine in the executor's journal",
}


def collect_status(services: Services, *, timeout_ms: int | None = None) -> dict[str, Report]:
    """One report per service: `up`, its endpoint, and its own facts (or why they are missing)."""
    reports: dict[str, Report] = {}
    health, reports["gateway"] = _probe(
        services,
        Service.GATEWAY,
        lambda: services.ask(Service.GATEWAY, GetHealth(), GatewayHealth, timeout_ms=timeout_ms),
        timeout_ms,
    )
    if health is not None:
        age = (health.ts_ns - health.last_broker_event_ns) / NS_PER_S
        reports["gateway"].update(
            broker=health.broker,
            logged_in=health.logged_in,
            last_broker_event_age_s=round(age, 3) if health.last_broker_event_ns else None,
        )
    strategies = services.endpoints(Service.STRATEGY)
    for number, endpoint in enumerate(strategies, start=1):
        name, report = _strategy_report(services, endpoint, timeout_ms)
        several = len(strategies) > 1
        reports[f"strategy {name or number}" if several else "strategy"] = report
    executors = services.endpoints(Service.EXECUTOR)
    for number, endpoint in enumerate(executors, start=1):
        name = f"executor {number}" if len(executors) > 1 else "executor"
        reports[name] = _executor_report(services, endpoint, timeout_ms)
    return reports


def _strategy_report(
    services: Services, endpoint: str, timeout_ms: int | None
) -> tuple[str, Report]:
    """The strategy's report and its shard's name ("" when unnamed or unknown)."""
    listed, report = _probe(
        services,
        Service.STRATEGY,
        lambda: every_condition(services, retries=0, timeout_ms=timeout_ms, endpoint=endpoint),
        timeout_ms,
        endpoint,
    )
    if listed is None:
        return "", report
    report.update(conditions=len(listed.conditions), quarantined=listed.quarantined)
    try:
        info = services.ask(
            Service.STRATEGY, GetShard(), ShardInfo, timeout_ms=timeout_ms, endpoint=endpoint
        )
    except (ServiceDown, ServiceRefused):
        return "", report  # a build from before shards, or gone since: the conditions tell
    if not info.shard:
        return "", report
    try:
        limits.check_shard(info.shard)
        symbols = [limits.check_symbol(symbol, "symbols") for symbol in info.symbols[:256]]
    except InvalidInput as invalid:
        report["error"] = f"answered a bad ShardInfo: {invalid}"
        return "", report
    report.update(shard=info.shard, symbols=symbols)
    return info.shard, report


def _executor_report(services: Services, endpoint: str, timeout_ms: int | None) -> Report:
    status, report = _probe(
        services,
        Service.EXECUTOR,
        lambda: services.ask(
            Service.EXECUTOR,
            GetExecutorStatus(),
            ExecutorStatus,
            timeout_ms=timeout_ms,
            endpoint=endpoint,
        ),
        timeout_ms,
        endpoint,
    )
    if status is not None:
        report.update(
            account=status.account or None,
            mode=status.mode.value,
            gateway_alive=status.gateway_alive,
            reconciliation=summary(status.reconciliation) if status.reconciliation else None,
            quarantined=status.quarantined,
        )
    return report


def show_status(services: Services, *, as_json: bool = False) -> dict[str, Report]:
    reports = collect_status(services)
    market, market_line = market_now()
    if as_json:
        say_json({**reports, "market": market})
    else:
        rows = [
            (name, "up" if report["up"] else "down", report["endpoint"], describe(report))
            for name, report in reports.items()
        ]
        say(table(("service", "state", "endpoint", "details"), rows))
        say(f"market: {market_line}")
        for name, report in reports.items():
            if "reconciliation" in report:
                say(f"{name}: last {last_reconciliation(report)}")
        for name, report in reports.items():
            if report.get("quarantined"):
                say(f"{name}: {quarantine_line(name, report)}")
    return reports


def market_now() -> tuple[dict[str, object], str]:
    """The market's outlook for --json and as a line; a holiday file that is unreadable or
    ends too soon is told instead, never a failure of the status."""
    try:
        now = market_clock().now()
        outlook = market_outlook(load_calendar(), now)
    except AftmError as unknown:
        return {"error": str(unknown)}, f"unknown ({unknown})"
    return outlook_json(outlook), describe_market(outlook, now)


def quarantine_line(name: str, report: Report) -> str:
    hint = QUARANTINE_HINT[name.split()[0]]  # "strategy s1": the strategy's store
    return f"quarantined: {report['quarantined']} records (see {hint})"


def is_all_up(reports: dict[str, Report]) -> bool:
    return all(report["up"] for report in reports.values())


def describe(report: Report) -> str:
    """The details column: what the service said, or why it said nothing."""
    if "error" in report:
        return str(report["error"])
    if "broker" in report:
        session = "logged in" if report["logged_in"] else "logged out"
        age = report["last_broker_event_age_s"]
        heard = "never heard from" if age is None else f"last broker event {age:.1f} s ago"
        return f"{report['broker']} broker, {session}, {heard}"
    if "conditions" in report:
        if "shard" in report:
            owned = ", ".join(cast(list[str], report["symbols"]))
            return f"shard {report['shard']} ({owned}), conditions: {report['conditions']}"
        return f"conditions: {report['conditions']}"
    account = report["account"] or "no account selected"
    alive = "gateway alive" if report["gateway_alive"] else "gateway silent"
    return f"account {account}, mode {report['mode']}, {alive}"


def last_reconciliation(report: Report) -> str:
    last = report["reconciliation"]
    return "reconciliation not run yet" if last is None else headline(cast(Summary, last))


def _probe(
    services: Services,
    service: Service,
    ask: Callable[[], T],
    timeout_ms: int | None,
    endpoint: str | None = None,
) -> tuple[T | None, Report]:
    """Ask once (a status must be quick, not retried); a failure becomes part of the report."""
    report: Report = {"endpoint": endpoint or services.endpoint(service), "up": False}
    try:
        reply = ask()
    except ServiceDown:
        timeout = timeout_ms if timeout_ms is not None else services.settings.timeout_ms
        report["error"] = f"no answer within {timeout} ms"
        return None, report
    except ServiceRefused as refused:
        report.update(up=True, error=f"refused: {refused.error}")
        return None, report
    report["up"] = True
    return reply, report


def add_status_command(commands: Subparsers) -> None:
    parser = commands.add_parser("status", help="is each service up, and what does it report")
    add_json_flag(parser)
    parser.set_defaults(handler=live(_status))


def _status(services: Services, args: argparse.Namespace) -> int:
    reports = show_status(services, as_json=args.json)
    return 0 if is_all_up(reports) else EXIT_DOWN
