"""What can end a console command besides bad input, and the exit code each one means.

Bad input (an option, a field) is `aftm.errors.InvalidInput`: exit 2. A service that refused a
request is `ServiceRefused`: exit 1. A service that did not answer is `ServiceDown`: exit 3.
`aftm reconcile` has its own statuses (0 agreed, 1 differs, 2 nothing compared), so its failures
are `ReconcileFailed`: exit 2. `cli.main` prints each as one line; none is ever a traceback.
"""

from __future__ import annotations

from pathlib import Path

from aftm.errors import AftmError
from aftm.wire.protocol import ErrorCode

EXIT_REFUSED = 1
EXIT_NOT_COMPARED = 2  # aftm reconcile only: like diff(1), 2 means it could not compare
EXIT_DOWN = 3
START_HINT = "start everything with: aftm run"


class ConsoleError(AftmError):
    """Ends the command with `exit_code` after printing `aftm: <message>`."""

    exit_code = EXIT_REFUSED


class ServiceRefused(ConsoleError):
    """The service answered with an error: fix what it names, then try again."""

    def __init__(self, service: str, error: str, code: ErrorCode | None = None) -> None:
        super().__init__(f"{service} refused: {error}")
        self.service = service
        self.error = error
        self.code = code


class ServiceDown(ConsoleError):
    """No answer in time: start the service (or all of them) and try again."""

    exit_code = EXIT_DOWN

    def __init__(self, service: str, endpoint: str, timeout_ms: int) -> None:
        super().__init__(
            f"the {service} at {endpoint} did not answer within {timeout_ms} ms "
            f"— is it running? ({START_HINT})"
        )
        self.service = service


class KeyNotTrusted(ConsoleError):
    """The CURVE handshake failed: the service refused the console's key, or its own key is
    not the one the console trusts. Nothing was asked of it. Point AFTM_CONSOLE_KEYS_DIR at the
    keys its services were given."""

    def __init__(self, service: str, endpoint: str, keys_dir: Path | None) -> None:
        super().__init__(
            f"the {service} at {endpoint} refused the console's key from {keys_dir} (or holds"
            " another key than the one trusted there): use the key folder its services were"
            " given (AFTM_CONSOLE_KEYS_DIR; compose: var/keys)"
        )
        self.service = service


class OutcomeUnknown(ConsoleError):
    """A request that changes things got no definite answer: check its effect before asking
    again, because it may already have happened."""

    exit_code = EXIT_DOWN

    def __init__(self, what: str, why: str, check: str) -> None:
        super().__init__(f"{why}, so {what} is unknown; check it with: {check}")


class OrderOutcomeUnknown(OutcomeUnknown):
    """The order may or may not have been placed: check before sending another one."""

    def __init__(self, client_order_id: str, why: str) -> None:
        super().__init__(
            f"the outcome of order {client_order_id}",
            why,
            "aftm trades (do not send it again as a new order)",
        )
        self.client_order_id = client_order_id


class NotCompared(ConsoleError):
    """The executor answered, but could not reach the broker's figures (the gateway did not
    answer it): start or fix the gateway (`aftm status` says which), then look again."""

    exit_code = EXIT_DOWN


class ReconcileFailed(ConsoleError):
    """`aftm reconcile` compared nothing: the executor or the gateway did not answer, or the
    executor refused; start or fix it (`aftm status`), then run it again."""

    exit_code = EXIT_NOT_COMPARED


class AdoptionUnknown(OutcomeUnknown):
    """An accept got no answer: look at the positions before accepting again."""

    exit_code = EXIT_NOT_COMPARED

    def __init__(self, why: str) -> None:
        super().__init__("whether the broker's figures were adopted", why, "aftm positions")
