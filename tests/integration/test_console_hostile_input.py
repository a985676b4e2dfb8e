"""`aftm` probed as a hostile user would: every bad number, text or file exits 2 with one line.

Each case runs the real `python -m aftm_console`. Its endpoints are sockets this test binds and
never answers: a request would end in exit 3 after a time-out, and the sockets show whether
anything at all was sent. So exit 2 with nothing received means the input was refused first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from aftm.wire.protocol import Future, FutureList, GatewayHealth
from aftm.wire.sockets import ok, read_request, reply_frames

AFTM = [sys.executable, "-m", "aftm_console"]
SERVICES = ("GATEWAY", "GATEWAY_PUB", "STRATEGY", "EXECUTOR")
BIG = [str(2**63), str(2**64), "9" * 5000]
NOT_FINITE = ["1e309", "nan", "inf", "-inf"]
VALID_TICKS = "ts,symbol,price,qty\n1735778700000000000,TXFL6,23000,1\n"
VALID_CONDITION = {"symbol": "TXFL6", "action": "buy", "trigger_price": 23000, "quantity": 1}


class Listeners:
    """One ROUTER per console endpoint, bound here and never answering."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]]) -> None:
        self.sockets: dict[str, zmq.Socket[bytes]] = {}
        for service in SERVICES:
            socket = context.socket(zmq.ROUTER)
            socket.linger = 0
            socket.bind_to_random_port("tcp://127.0.0.1")
            self.sockets[f"AFTM_CONSOLE_{service}_CONNECT"] = socket
        self.endpoints = {
            variable: socket.getsockopt_string(zmq.LAST_ENDPOINT)
            for variable, socket in self.sockets.items()
        }

    def env(self) -> dict[str, str]:
        plain = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
        return {
            **plain,
            **self.endpoints,
            "AFTM_CONSOLE_INSECURE": "true",
            "AFTM_CONSOLE_TIMEOUT_MS": "300",
        }

    def received(self) -> list[str]:
        """The endpoints that got anything since the last call (drained)."""
        got = []
        for variable, socket in self.sockets.items():
            while socket.poll(50, zmq.POLLIN):
                socket.recv_multipart()
                got.append(variable)
        return got


@pytest.fixture(scope="module")
def listeners() -> Iterator[Listeners]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        yield Listeners(context)
    finally:
        context.destroy(linger=0)


def aftm(
    listeners: Listeners, *args: str, cwd: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AFTM, *args],
        env=listeners.env(),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
        check=False,
    )


def refused(listeners: Listeners, *args: str, cwd: Path | None = None, stdin: str = "") -> str:
    """Run `aftm args`; assert exit 2, one `aftm: error:` line, no traceback, nothing sent."""
    done = aftm(listeners, *args, cwd=cwd, stdin=stdin)
    sent_to = listeners.received()
    lines = done.stderr.splitlines()
    assert (done.returncode, len(lines)) == (2, 1), (done.returncode, done.stderr[-2000:])
    assert lines[0].startswith("aftm: error: "), lines[0]
    assert len(lines[0]) < 400, "an error must not echo a huge input back"
    assert sent_to == []
    return lines[0]


# --- numbers and text on the command line ----------------------------------------------------


def condition(option: str, value: str) -> list[str]:
    fields = {"--symbol": "TXFL6", "--action": "buy", "--trigger-price": "23000", "--quantity": "1"}
    fields[option] = value
    return ["conditions", "add", *(text for pair in fields.items() for text in pair)]


def order(option: str, value: str) -> list[str]:
    fields = {"--symbol": "TXFL6", "--side": "buy", "--quantity": "1"} | {option: value}
    return ["order", *(text for pair in fields.items() for text in pair)]


NUMBERS = ["-1", *BIG, *NOT_FINITE, "1.5", "\uff11\uff12", "٣", "1_000", "0x10", "1\x01", " "]
CONDITION_OPTIONS = (
    "--trigger-price",
    "--quantity",
    "--turning-point",
    "--take-profit-point",
    "--stop-loss-point",
)
COMMAND_LINES = [
    *(
        pytest.param(
            condition(option, value),
            option[2:].replace("-", "_"),
            id=f"conditions-{option[2:]}-{value[:8]!r}",
        )
        for option in CONDITION_OPTIONS
        for value in NUMBERS
        if not (value == "1.5" and option != "--quantity")  # 1.5 points: one case is enough
    ),
    pytest.param(condition("--trigger-price", "0"), "trigger_price", id="conditions-trigger-0"),
    pytest.param(condition("--quantity", "0"), "quantity", id="conditions-quantity-0"),
    pytest.param(condition("--id", "c\x01"), "id", id="conditions-id-control"),
    pytest.param(condition("--id", "\uff431"), "id", id="conditions-id-non-ascii"),
    pytest.param(condition("--id", "c" * 100_000), "id", id="conditions-id-huge"),
    # (A NUL cannot be passed on a command line at all: the kernel ends the argument there.)
    pytest.param(condition("--symbol", "TXFL6\x01"), "symbol", id="conditions-symbol-control"),
    *(
        pytest.param(order("--quantity", value), "quantity", id=f"order-quantity-{value[:8]!r}")
        for value in ["0", "-1", *BIG, *NOT_FINITE, "1.5", "\uff11", "٣", "1_0", "0x1"]
    ),
    pytest.param(order("--account", "A\x1b[2J"), "account", id="order-account-escape"),
    pytest.param(order("--account", "\uff211"), "account", id="order-account-non-ascii"),
    pytest.param(order("--symbol", "TXF\uff2c6"), "symbol", id="order-symbol-non-ascii"),
    *(
        pytest.param(["trades", "--limit", value], "limit", id=f"trades-limit-{value[:8]!r}")
        for value in ["0", "-1", *BIG, "nan", "1.5", "\uff11\uff12", "1_000"]
    ),
    pytest.param(["flatten", "--yes", "--symbol", "TXF\x01"], "symbol", id="flatten-control"),
    pytest.param(["positions", "--account", "A B"], "account", id="positions-account-blank"),
    pytest.param(["positions", "--account", "A\x1b[2J"], "account", id="positions-account-escape"),
    pytest.param(["account", "use", "A" * 100_000], "account", id="account-huge"),
    pytest.param(["account", "use", "ACC\n1"], "account", id="account-newline"),
    pytest.param(
        ["items", "add", "\uff34\uff38\uff26\uff2c\uff16"], "symbol", id="items-non-ascii"
    ),
    pytest.param(["conditions", "rm", "c\x7f"], "id", id="conditions-rm-delete"),
    pytest.param(["login", "--user", "", "--password-stdin"], "user", id="login-user-empty"),
    pytest.param(["login", "--user", "u\x01", "--password-stdin"], "user", id="login-user-ctrl"),
    pytest.param(["login", "--user", "u\n2", "--password-stdin"], "user", id="login-user-newline"),
    pytest.param(["login", "--user", "u" * 100_000, "--password-stdin"], "user", id="login-huge"),
]


@pytest.mark.parametrize(("args", "named"), COMMAND_LINES)
def test_a_bad_value_on_the_command_line_exits_2_before_any_request(
    listeners: Listeners, args: list[str], named: str
) -> None:
    line = refused(listeners, *args, stdin="sim\n")

    assert named in line.replace("-", "_")  # field 'stop_loss_point' or --stop-loss-point


def test_a_login_password_longer_than_any_broker_takes_is_refused(listeners: Listeners) -> None:
    line = refused(listeners, "login", "--user", "sim", "--password-stdin", stdin="p" * 10**6)

    assert "password" in line


def test_the_listeners_would_have_seen_a_request(listeners: Listeners) -> None:
    """The probe itself: a valid request does reach the sockets (and times out: exit 3)."""
    done = aftm(listeners, "halt")

    assert done.returncode == 3, done.stderr
    assert listeners.received() != []


@pytest.mark.parametrize(
    "args",
    [
        ["status", "\x1b[31mred"],  # argparse repeats unrecognised arguments as they are
        [
            "backtest",
            "--ticks",
            "no\x1b[2Jsuch.csv",
            "--conditions",
            "conds.json",
            "--signals",
            "s",
        ],
        ["backtest", "--ticks", "x" * 4000, "--conditions", "conds.json", "--signals", "s"],
    ],
    ids=["unrecognised", "file-name", "long-file-name"],
)
def test_an_error_never_writes_control_characters_or_a_huge_line(
    listeners: Listeners, files: Path, args: list[str]
) -> None:
    line = refused(listeners, *args, cwd=files)

    assert line.isprintable()
    assert "\\x1b" in line or "xxx..." in line


FORGED = "\x1b[2J\u81fa\u80a1\r\nMXFL6  fake"


@pytest.mark.parametrize(
    ("args", "body", "lines"),
    [
        (["futures"], FutureList((Future("TXFL6", FORGED, 200, 23000, True),)), 2),
        (["login", "--user", "u", "--password-stdin"], GatewayHealth(FORGED, True, 0, 0), 1),
    ],
    ids=["table", "sentence"],
)
def test_text_a_service_sends_is_shown_without_its_control_characters(
    listeners: Listeners, args: list[str], body: object, lines: int
) -> None:
    """A name from the broker could clear the operator's screen or forge a line."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    gateway = context.socket(zmq.ROUTER)
    gateway.linger = 0
    port = gateway.bind_to_random_port("tcp://127.0.0.1")

    def answer() -> None:
        if gateway.poll(30_000):
            identity, request = read_request(gateway.recv_multipart())
            gateway.send_multipart(reply_frames(identity, ok(request, body)))

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        env = {"AFTM_CONSOLE_GATEWAY_CONNECT": f"tcp://127.0.0.1:{port}"}
        done = subprocess.run(
            [*AFTM, *args],
            env={**listeners.env(), **env},
            input="p\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        thread.join()
        context.destroy(linger=0)

    assert done.returncode == 0, done.stderr
    shown = done.stdout.removesuffix("\n").split("\n")
    assert all(line.isprintable() for line in shown), done.stdout
    assert len(shown) == lines  # no forged line
    assert "\\x1b[2J\u81fa\u80a1\\r\\nMXFL6  fake" in done.stdout


# --- backtest options and files --------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "ticks.csv").write_text(VALID_TICKS, encoding="utf-8")
    (tmp_path / "conds.json").write_text(json.dumps([VALID_CONDITION]), encoding="utf-8")
    return tmp_path


def backtest(*extra: str) -> list[str]:
    base = ["--ticks", "ticks.csv", "--conditions", "conds.json", "--signals", "out.jsonl"]
    return ["backtest", *base, *extra]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        *(
            pytest.param(["--slippage", value], "slippage", id=f"slippage-{value[:8]!r}")
            for value in ["-1", *BIG, *NOT_FINITE, "1.5", "\uff11\uff12", "1_0", "1000001"]
        ),
        *(
            pytest.param(["--point-value", f"TXF={value}"], "point_value", id=f"twd-{value[:8]}")
            for value in ["0", "-1", *BIG, "nan", "inf", "1.5", "\uff12\uff10\uff10", "1_0"]
        ),
        pytest.param(["--point-value", "T" * 100_000 + "=1"], "point_value", id="product-huge"),
        pytest.param(["--point-value", "TX\x01=1"], "point_value", id="product-control"),
    ],
)
def test_a_bad_backtest_option_exits_2(
    listeners: Listeners, files: Path, extra: list[str], named: str
) -> None:
    line = refused(listeners, *backtest(*extra), cwd=files)

    assert named in line.replace("-", "_")
    assert not (files / "out.jsonl").exists()


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def conditions_json(**changes: str) -> str:
    """One condition's JSON with a field's value replaced by raw JSON text."""
    fields = {key: json.dumps(value) for key, value in VALID_CONDITION.items()} | changes
    return "[{" + ", ".join(f'"{key}": {value}' for key, value in fields.items()) + "}]"


CONDITION_FILES = [
    pytest.param(deep(100_000), "nests deeper", id="nested-100000"),
    pytest.param("[" * 100_000, "nests deeper", id="nested-unclosed"),
    pytest.param('[{"a": ' * 50_000 + "1" + "}]" * 50_000, "nests deeper", id="nested-objects"),
    pytest.param(f"[{deep(3)}]", "condition 1", id="nested-a-little"),
    pytest.param(conditions_json(trigger_price="9" * 5000), "trigger_price", id="int-5000-digits"),
    pytest.param(conditions_json(trigger_price="9" * 100_000), "trigger_price", id="int-huge"),
    pytest.param(conditions_json(quantity="1e999999"), "quantity", id="float-huge-exponent"),
    pytest.param(conditions_json(quantity=str(2**64)), "quantity", id="quantity-2^64"),
    pytest.param(conditions_json(quantity="NaN"), "quantity", id="quantity-nan"),
    pytest.param(conditions_json(quantity="1.5"), "quantity", id="quantity-fraction"),
    pytest.param(conditions_json(stop_loss_point="-Infinity"), "stop_loss_point", id="points-inf"),
    pytest.param(
        conditions_json(trigger_price='"\uff12\uff13\uff10\uff10\uff10"'),
        "trigger_price",
        id="text-digits",
    ),
    pytest.param(conditions_json(id='"c\\u0000"'), "id", id="id-nul"),
    pytest.param(conditions_json(id=json.dumps(deep(3))), "id", id="id-text-brackets"),
    pytest.param(conditions_json(id='"a", "id": "b"'), "'id'", id="duplicate-key"),
]


@pytest.mark.parametrize(("text", "named"), CONDITION_FILES)
def test_a_hostile_conditions_file_is_one_line_naming_what_is_wrong(
    listeners: Listeners, files: Path, text: str, named: str
) -> None:
    (files / "conds.json").write_text(text, encoding="utf-8")

    line = refused(listeners, *backtest(), cwd=files)

    assert line.startswith("aftm: error: conds.json: ")
    assert named in line


@pytest.mark.parametrize("option", ["--ticks", "--conditions"])
@pytest.mark.parametrize("kind", ["folder", "missing", "binary", "fifo-less-device"])
def test_an_input_that_is_not_a_readable_file_is_named(
    listeners: Listeners, files: Path, option: str, kind: str
) -> None:
    path = files / "input"
    if kind == "folder":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "fifo-less-device":
        path = Path("/dev/zero")  # endless: it must be refused by size, not read to the end
    line = refused(listeners, *backtest(option, str(path)), cwd=files)

    assert str(path) in line


# A buy triggered at 23000 that turns 15 points later: it enters at 23015 (DESIGN.md).
ENTERING_TICKS = "ts,symbol,price,qty\n" + "".join(
    f"{1735778700000000000 + i},TXFL6,{price},1\n"
    for i, price in enumerate([23010, 23000, 22990, 23010, 23015])
)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("option", ["--signals", "--report", "--plot"])
def test_a_full_disk_names_the_output_it_could_not_write(
    listeners: Listeners, files: Path, option: str
) -> None:
    (files / "ticks.csv").write_text(ENTERING_TICKS, encoding="utf-8")

    line = refused(listeners, *backtest(option, "/dev/full"), cwd=files)

    assert line == "aftm: error: /dev/full: No space left on device"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
@pytest.mark.parametrize("name", ["ticks.csv", "conds.json"])
def test_an_unreadable_input_is_named(listeners: Listeners, files: Path, name: str) -> None:
    (files / name).chmod(0)

    line = refused(listeners, *backtest(), cwd=files)

    assert f"{name}: Permission denied" in line


# --- a tick file line longer than any legal one -----------------------------------------------

# The child runs under a wrapper that reports its own peak RSS, so that nothing else this test
# session started can inflate the number.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def peak_rss_mb(listeners: Listeners, cwd: Path) -> tuple[int, str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *AFTM, *backtest("--no-progress")],
        env=listeners.env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stderr, int(done.stdout.split()[-1]) / 1024  # Linux: kB


@pytest.mark.slow
def test_a_line_longer_than_any_legal_one_fails_fast_without_reading_it_in(
    listeners: Listeners, files: Path
) -> None:
    _, _, baseline = peak_rss_mb(listeners, files)
    size = 64 * 1024 * 1024
    with (files / "ticks.csv").open("w", encoding="utf-8") as out:
        out.write(VALID_TICKS + "1735778700000000001,TXFL6,")
        for _ in range(size // 1_000_000):
            out.write("9" * 1_000_000)
        out.write(",1\n")

    code, stderr, peak = peak_rss_mb(listeners, files)

    assert code == 2, stderr
    # Reading the line whole would take over 64 MB (its bytes), twice that once decoded.
    assert peak - baseline < 16, (
        f"peak RSS {peak:.0f} MB against {baseline:.0f} MB for a small file"
    )
    assert stderr.startswith("aftm: error: ticks.csv: line 3: is longer than ")
    assert stderr.count("\n") == 1
