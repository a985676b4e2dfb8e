"""One contract, two brokers: the simulated exchange and PfcfBroker over the .NET test double.

`venue` opens brokers of one kind on one state folder; opening again after `close` is a restart
that meets the broker's remembered state. Faults both brokers can inject are options of `open`;
the double's own faults are switched through `double(broker)` in test_pfcf_faults.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from aftm.market.products import DEFAULT_SYMBOLS
from aftm_gateway.broker import Broker, BrokerEvent
from aftm_gateway.pfcf import PfcfBroker, PfcfConfig
from aftm_gateway.pfcf.loader import load
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.sim import SimBroker
from aftm_gateway.simulated.venue import VenueConfig
from tests.support import dotnet

ACCOUNT = dotnet.ACCOUNT
USER = PASSWORD = dotnet.USER
TICKS_PER_S = 200
MAX_QUANTITY = 100


@dataclass
class Venue:
    kind: str
    folder: Path
    monkeypatch: pytest.MonkeyPatch
    opened: list[Broker] = field(default_factory=list)
    apis: dict[int, Any] = field(default_factory=dict)  # id(PfcfBroker) -> its PFCFAPI object

    def open(
        self, *, reject_all: bool = False, reply_delay_ms: int = 0, timeout_ms: int = 3000
    ) -> Broker:
        if self.kind == "sim":
            broker: Broker = self._sim(reject_all, reply_delay_ms, timeout_ms)
        else:
            broker = self._pfcf(reject_all, reply_delay_ms, timeout_ms)
        self.opened.append(broker)
        return broker

    def logged_in(self, *symbols: str, **options: Any) -> Broker:
        broker = self.open(**options)
        for symbol in symbols:
            broker.register(symbol)
        broker.login(USER, PASSWORD)
        return broker

    def close_all(self) -> None:
        while self.opened:
            self.opened.pop().close()

    def _sim(self, reject_all: bool, reply_delay_ms: int, timeout_ms: int) -> SimBroker:
        config = VenueConfig(
            DEFAULT_SYMBOLS,
            (ACCOUNT,),
            USER,
            SecretStr(PASSWORD),
            max_quantity=MAX_QUANTITY,
            reply_timeout_ms=timeout_ms,
            reply_delay_ms=reply_delay_ms,
            reject_all=reject_all,
        )
        store = ExchangeStore(self.folder / "sim-exchange.sqlite")
        return SimBroker(store, config, ticks_per_s=TICKS_PER_S, seed=1)

    def _pfcf(self, reject_all: bool, reply_delay_ms: int, timeout_ms: int) -> PfcfBroker:
        env = dotnet.double_env(
            self.folder / "pfcf-double-state.tsv",
            ticks_per_s=TICKS_PER_S,
            max_quantity=str(MAX_QUANTITY),
            reject_orders=str(reject_all).lower(),
            reply_delay_ms=str(reply_delay_ms),
        )
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        vendor = load("mono", dotnet.double_dll(), "PFCF")
        config = PfcfConfig(server="127.0.0.1", timeout_ms=timeout_ms, login_timeout_ms=5000)
        api = vendor.new_api()
        broker = PfcfBroker(api, vendor, config)
        self.apis[id(broker)] = api
        return broker

    def double(self, broker: Broker) -> Any:
        """The double's test controls (`PFCFAPI.Double`) behind a PfcfBroker."""
        return self.apis[id(broker)].Double


@pytest.fixture(params=["sim", "pfcf"])
def venue(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Venue]:
    opened = Venue(request.param, tmp_path, monkeypatch)
    yield opened
    opened.close_all()


def collect(
    broker: Broker, done: Callable[[list[BrokerEvent]], bool], timeout_s: float = 5.0
) -> list[BrokerEvent]:
    """Poll `broker` until `done(events so far)`; fails the test instead of hanging."""
    events: list[BrokerEvent] = []
    deadline = time.monotonic() + timeout_s
    while not done(events):
        if time.monotonic() > deadline:
            raise AssertionError(f"broker events not as expected after {timeout_s}s: {events[-5:]}")
        events.extend(broker.poll(time.time_ns()))
        time.sleep(0.005)
    return events
