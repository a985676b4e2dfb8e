"""DESIGN.md's "Roles and keys" table, checked cell by cell against `allowed`."""

from __future__ import annotations

import itertools

import pytest

from aftm.domain.orders import PlaceOrder
from aftm.domain.signals import Signal
from aftm.security.roles import ACCESS, BoundSocket, Role, allowed, may_connect, refusal
from aftm.wire import protocol as p
from aftm.wire.codec import REGISTRY

GATEWAY_ROUTER = BoundSocket.GATEWAY_ROUTER
STRATEGY_CONTROL = BoundSocket.STRATEGY_CONTROL
EXECUTOR_PULL = BoundSocket.EXECUTOR_PULL
EXECUTOR_CONTROL = BoundSocket.EXECUTOR_CONTROL

EVERY_BODY: frozenset[type] = frozenset().union(
    *(types for senders in ACCESS.values() for types in senders.values())
)

# (socket, role, body type, expected): the cases the issue names, and their neighbours.
CASES = [
    (GATEWAY_ROUTER, Role.EXECUTOR, PlaceOrder, True),
    (GATEWAY_ROUTER, Role.EXECUTOR, p.CancelOrder, True),
    (GATEWAY_ROUTER, Role.EXECUTOR, p.ListFills, True),
    (GATEWAY_ROUTER, Role.EXECUTOR, p.Login, False),
    (GATEWAY_ROUTER, Role.CONSOLE, p.Login, True),
    (GATEWAY_ROUTER, Role.CONSOLE, p.RegisterItem, True),
    (GATEWAY_ROUTER, Role.CONSOLE, p.ListOrders, True),
    (GATEWAY_ROUTER, Role.CONSOLE, PlaceOrder, False),
    (GATEWAY_ROUTER, Role.CONSOLE, p.CancelOrder, False),
    (GATEWAY_ROUTER, Role.STRATEGY, PlaceOrder, False),
    (GATEWAY_ROUTER, Role.STRATEGY, p.Logout, False),
    (GATEWAY_ROUTER, Role.GATEWAY, PlaceOrder, False),
    (STRATEGY_CONTROL, Role.CONSOLE, p.AddCondition, True),
    (STRATEGY_CONTROL, Role.CONSOLE, p.RemoveCondition, True),
    (STRATEGY_CONTROL, Role.CONSOLE, p.GetSignals, False),
    (STRATEGY_CONTROL, Role.EXECUTOR, p.ListSignalIds, True),
    (STRATEGY_CONTROL, Role.EXECUTOR, p.GetSignals, True),
    (STRATEGY_CONTROL, Role.EXECUTOR, p.AddCondition, False),
    (STRATEGY_CONTROL, Role.STRATEGY, p.ListConditions, False),
    (EXECUTOR_PULL, Role.STRATEGY, Signal, True),
    (EXECUTOR_PULL, Role.CONSOLE, Signal, False),
    (EXECUTOR_PULL, Role.EXECUTOR, Signal, False),
    (EXECUTOR_PULL, Role.GATEWAY, Signal, False),
    (EXECUTOR_CONTROL, Role.CONSOLE, p.SetTradingMode, True),
    (EXECUTOR_CONTROL, Role.CONSOLE, p.ManualOrder, True),
    (EXECUTOR_CONTROL, Role.CONSOLE, p.Reconcile, True),
    (EXECUTOR_CONTROL, Role.STRATEGY, p.SetTradingMode, False),
    (EXECUTOR_CONTROL, Role.STRATEGY, p.ManualOrder, False),
    (EXECUTOR_CONTROL, Role.EXECUTOR, p.Flatten, False),
    (EXECUTOR_CONTROL, Role.GATEWAY, p.SelectAccount, False),
]


@pytest.mark.parametrize(("socket", "role", "body", "expected"), CASES)
def test_the_named_cases(socket: BoundSocket, role: Role, body: type, expected: bool) -> None:
    assert allowed(socket, role, body) is expected
    assert (refusal(socket, role, body) is None) is expected


# DESIGN.md's table written out again by name, independently of roles.ACCESS: a change to
# either must be made on purpose in both.
GATEWAY_QUERIES = {
    "QueryOrder",
    "ListOrders",
    "ListFills",
    "ListPositions",
    "ListAccounts",
    "ListFutures",
    "GetHealth",
    "GetMarketSession",
}
EXPECTED: dict[BoundSocket, dict[Role, set[str]]] = {
    BoundSocket.GATEWAY_PUB: {Role.STRATEGY: set(), Role.EXECUTOR: set(), Role.CONSOLE: set()},
    GATEWAY_ROUTER: {
        Role.EXECUTOR: GATEWAY_QUERIES | {"PlaceOrder", "CancelOrder"},
        Role.CONSOLE: GATEWAY_QUERIES | {"Login", "Logout", "RegisterItem", "UnregisterItem"},
    },
    STRATEGY_CONTROL: {
        Role.CONSOLE: {"AddCondition", "RemoveCondition", "ListConditions", "GetShard"},
        Role.EXECUTOR: {"ListSignals", "ListSignalIds", "GetSignals", "GetShard"},
    },
    EXECUTOR_PULL: {Role.STRATEGY: {"Signal"}},
    EXECUTOR_CONTROL: {
        Role.CONSOLE: {
            "SelectAccount",
            "SetTradingMode",
            "GetExecutorStatus",
            "ManualOrder",
            "Flatten",
            "ListTrades",
            "Reconcile",
            "GetReconciliation",
            "ListAccounts",
        }
    },
}
EVERY_TYPE = sorted(REGISTRY.types, key=lambda kind: kind.__name__)


def test_every_cell_follows_the_table() -> None:
    """Every socket x role x registered message type: allowed exactly where EXPECTED says."""
    wrong = [
        (str(socket), str(role), body.__name__)
        for socket, role, body in itertools.product(BoundSocket, Role, EVERY_TYPE)
        if allowed(socket, role, body) is not (body.__name__ in EXPECTED[socket].get(role, set()))
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("socket", "roles"),
    [
        (BoundSocket.GATEWAY_PUB, {Role.STRATEGY, Role.EXECUTOR, Role.CONSOLE}),
        (GATEWAY_ROUTER, {Role.EXECUTOR, Role.CONSOLE}),
        (STRATEGY_CONTROL, {Role.CONSOLE, Role.EXECUTOR}),
        (EXECUTOR_PULL, {Role.STRATEGY}),
        (EXECUTOR_CONTROL, {Role.CONSOLE}),
    ],
)
def test_who_may_connect(socket: BoundSocket, roles: set[Role]) -> None:
    assert {role for role in Role if may_connect(socket, role)} == roles


def test_a_subscriber_sends_no_request() -> None:
    assert all(not types for types in ACCESS[BoundSocket.GATEWAY_PUB].values())


def test_a_sender_without_a_role_is_refused_everywhere() -> None:
    for socket, body in itertools.product(BoundSocket, EVERY_BODY):
        reason = refusal(socket, None, body)
        assert reason is not None
        assert "without a role" in reason
        assert not may_connect(socket, None)


def test_the_reason_names_the_role_the_type_and_the_socket() -> None:
    reason = refusal(EXECUTOR_CONTROL, Role.STRATEGY, p.SetTradingMode)
    assert reason == "role strategy may not connect to executor.control"
    reason = refusal(GATEWAY_ROUTER, Role.CONSOLE, PlaceOrder)
    assert reason == "role console may not send PlaceOrder to gateway.router"


def test_every_body_in_the_table_is_a_wire_message() -> None:
    assert EVERY_BODY.issubset(REGISTRY.types)


def test_every_request_type_has_a_sender() -> None:
    """A request type added to the protocol without a row here would be refused to everyone."""
    requests = {
        kind
        for kind in REGISTRY.types
        if kind.__module__ == p.__name__
        and kind.__name__.startswith(("List", "Get", "Add", "Remove", "Set", "Select"))
    }
    assert requests <= EVERY_BODY
