"""Who may talk to which socket, and what each role may ask: DESIGN.md's "Roles and keys" as data.

Every bound TCP socket is a `BoundSocket`. For each, `ACCESS` maps the roles that may connect
to the request body types each of them may send there. A role missing from a socket's map is
refused at the CURVE handshake (curve.py uses the socket's name as the ZAP domain); a body type
missing from a role's set is refused per request by `refusal`. Pure data and pure functions: no
sockets, no clock, no logging.

The sets follow what each client really sends today:
- the executor asks the gateway to place and cancel orders and to list what the broker knows;
- the console asks the gateway to log in and out, (un)register items and answer queries, but
  places and cancels nothing there: a person's order goes through the executor (ManualOrder),
  under the executor's risk checks;
- the executor asks the strategy for signals it missed; the console manages conditions; both
  ask a strategy which shard it is (GetShard), to route conditions and resync per shard;
- only the strategy pushes signals; only the console drives the executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from aftm.domain.orders import PlaceOrder
from aftm.domain.signals import Signal
from aftm.wire import protocol as p


class Role(StrEnum):
    GATEWAY = "gateway"
    STRATEGY = "strategy"
    EXECUTOR = "executor"
    CONSOLE = "console"


class BoundSocket(StrEnum):
    """A socket a service binds; its value is also the ZAP domain set on that socket."""

    GATEWAY_PUB = "gateway.pub"
    GATEWAY_ROUTER = "gateway.router"
    STRATEGY_CONTROL = "strategy.control"
    EXECUTOR_PULL = "executor.pull"
    EXECUTOR_CONTROL = "executor.control"


_GATEWAY_QUERIES: frozenset[type] = frozenset(
    {
        p.QueryOrder,
        p.ListOrders,
        p.ListFills,
        p.ListPositions,
        p.ListAccounts,
        p.ListFutures,
        p.GetHealth,
        p.GetMarketSession,
    }
)

ACCESS: Mapping[BoundSocket, Mapping[Role, frozenset[type]]] = {
    # Subscribing sends no request: connecting is all a subscriber does.
    BoundSocket.GATEWAY_PUB: {
        Role.STRATEGY: frozenset(),
        Role.EXECUTOR: frozenset(),
        Role.CONSOLE: frozenset(),
    },
    BoundSocket.GATEWAY_ROUTER: {
        Role.EXECUTOR: _GATEWAY_QUERIES | {PlaceOrder, p.CancelOrder},
        Role.CONSOLE: _GATEWAY_QUERIES | {p.Login, p.Logout, p.RegisterItem, p.UnregisterItem},
    },
    BoundSocket.STRATEGY_CONTROL: {
        Role.CONSOLE: frozenset({p.AddCondition, p.RemoveCondition, p.ListConditions, p.GetShard}),
        Role.EXECUTOR: frozenset({p.ListSignals, p.ListSignalIds, p.GetSignals, p.GetShard}),
    },
    BoundSocket.EXECUTOR_PULL: {
        Role.STRATEGY: frozenset({Signal}),
    },
    BoundSocket.EXECUTOR_CONTROL: {
        Role.CONSOLE: frozenset(
            {
                p.SelectAccount,
                p.SetTradingMode,
                p.GetExecutorStatus,
                p.ManualOrder,
                p.Flatten,
                p.ListTrades,
                p.Reconcile,
                p.GetReconciliation,
                p.ListAccounts,
            }
        ),
    },
}


def may_connect(socket: BoundSocket, role: Role | None) -> bool:
    return role is not None and role in ACCESS[socket]


def refusal(socket: BoundSocket, role: Role | None, body_type: type) -> str | None:
    """Why `role` may not send a `body_type` on `socket`, or None when it may."""
    if role is None:
        return f"{socket} refuses a sender without a role (no CURVE key)"
    senders = ACCESS[socket]
    if role not in senders:
        return f"role {role} may not connect to {socket}"
    if body_type not in senders[role]:
        return f"role {role} may not send {body_type.__name__} to {socket}"
    return None


def allowed(socket: BoundSocket, role: Role | None, body_type: type) -> bool:
    return refusal(socket, role, body_type) is None


def roles_for(socket: BoundSocket) -> frozenset[Role]:
    """The roles that may connect to `socket` (the handshake's allow-list)."""
    return frozenset(ACCESS[socket])
