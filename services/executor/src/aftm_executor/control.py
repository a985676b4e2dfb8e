"""Control requests from the console: select the account, set the trading mode, report status.

Both choices are journaled, so a restarted executor keeps trading the way it was told to.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from aftm.wire.protocol import (
    AccountList,
    ErrorCode,
    ExecutorStatus,
    GetExecutorStatus,
    ListAccounts,
    Reply,
    Request,
    SelectAccount,
    SetTradingMode,
)
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm.wire.sockets import error, ok
from aftm_executor.journal import Journal


class Control:
    def __init__(
        self, journal: Journal, gateway: ReliableClient, status: Callable[[], ExecutorStatus]
    ) -> None:
        self._journal = journal
        self._gateway = gateway
        self._status = status

    def answer(self, request: Request) -> Reply:
        body = request.body
        if isinstance(body, SelectAccount):
            return self._select_account(request, body.account.strip())
        if isinstance(body, SetTradingMode):
            self._journal.set_mode(body.mode)
            logger.warning("trading mode set mode={}", body.mode)
            return ok(request, self._status())
        if isinstance(body, GetExecutorStatus):
            return ok(request, self._status())
        name = type(body).__name__
        return error(request, ErrorCode.BAD_REQUEST, f"{name} is not an executor request")

    def _select_account(self, request: Request, account: str) -> Reply:
        """Only an account the gateway's broker session knows may receive orders."""
        if not account:
            return error(request, ErrorCode.INVALID, "account is empty")
        try:
            # Listing accounts changes nothing at the gateway, so it is safe to ask twice.
            reply = self._gateway.request(ListAccounts(), retries=1)
        except RequestTimedOut as timed_out:
            return error(request, ErrorCode.UNAVAILABLE, f"gateway did not answer: {timed_out}")
        if not reply.ok:
            code = reply.error_code or ErrorCode.UNAVAILABLE
            return error(request, code, f"gateway refused to list accounts: {reply.error}")
        if not isinstance(reply.body, AccountList):
            return error(request, ErrorCode.UNAVAILABLE, "gateway sent no account list")
        if account not in reply.body.accounts:
            known = ", ".join(reply.body.accounts) or "none"
            message = f"unknown account {account!r} (known: {known})"
            return error(request, ErrorCode.INVALID, message)
        self._journal.set_account(account)
        logger.info("account selected account={}", account)
        return ok(request, self._status())
