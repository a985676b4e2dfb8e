"""What a broker adapter raises on purpose, and what the caller should do about each.

A broker's *answer* to an order is never an exception: a refused order comes back as an
`OrderSnapshot` with status `rejected` and a reason. These errors are for calls that got no
answer, or that the broker would not even consider.
"""

from __future__ import annotations

from aftm.errors import AftmError


class BrokerError(AftmError):
    """Base of the broker errors below."""


class BrokerRejected(BrokerError):
    """The broker refused the call itself (bad credentials, a session request it will not serve).

    Do not retry with the same input: fix it (credentials, log in first) and try again.
    """


class NotLoggedIn(BrokerRejected):
    """The call needs a broker session and there is none. Log in, then repeat the call."""


class OrderNotFound(BrokerError):
    """The broker has no order with this client order id. Check the id; nothing was changed."""


class BrokerUnavailable(BrokerError):
    """The broker did not answer in time, or cannot be reached: the outcome is UNKNOWN.

    Never repeat a `place` blindly: the order may exist. Resolve it with `find_order` (which
    looks the order up by its NOTE, the client order id) once the broker answers again. Calls
    that change nothing (queries) may simply be retried.
    """


class OrderInDoubt(BrokerUnavailable):
    """The broker does not list the order, and cannot yet say it never will.

    An asynchronous broker acknowledges an order by a later event, so an order sent a moment
    ago may be missing from its lists and still arrive. Ask again later; never send it again
    meanwhile (the adapter says when its "not found" becomes definitive).
    """
