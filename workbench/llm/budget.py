"""Spending limits held exactly: integer nano-dollars, reserved per call attempt before it is sent.

* :class:`Budget` — one evaluation's spending: what was spent and what calls in flight hold, as integers (no float
  residue can keep a reservation open), with an optional limit. :meth:`Budget.admit` waits only while something is
  held, so it can never wait on nothing: when a row does not fit and nothing is in flight, the budget is spent.
* :class:`Tab` — one row's calls (answer, retries, judge calls), drawing on a budget. The client
  (:mod:`workbench.llm.client`) asks the current tab (:data:`CURRENT_TAB`) before every attempt for that attempt's
  upper bound (its prompt tokens counted offline plus chat framing, plus ``max_tokens``), and charges what the
  attempt cost afterwards: its reported usage, failed attempts included.
"""

from __future__ import annotations

import asyncio
import contextvars
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

NANO = 10**9  # integer nano-dollars: exact sums, and a tenth of a cheap model's token is still > 0


def to_nano(usd: float | None, up: bool = False) -> int:
    """``usd`` as integer nano-dollars (rounded up for reservations, to the nearest for costs); 0 for None."""
    if not usd:
        return 0
    d = Decimal(repr(float(usd))) * NANO
    return int(d.to_integral_value(ROUND_CEILING if up else ROUND_HALF_EVEN))


def to_usd(nano: int) -> float:
    return nano / NANO


class Budget:
    """What an evaluation spent and what its calls in flight hold, in integer nano-dollars, under an optional
    ``limit_usd``. One event loop uses it (the evaluation's)."""

    def __init__(self, limit_usd: float | None = None):
        self.limit = None if limit_usd is None else to_nano(limit_usd)
        self.spent = 0
        self.held = 0
        self.exhausted = False  # set when something did not fit: no new row starts
        self._cond: asyncio.Condition | None = None

    @property
    def spent_usd(self) -> float:
        return to_usd(self.spent)

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    def hold(self, need: int) -> bool:
        """Reserve ``need`` now if it fits beside what is spent and held (never waits)."""
        if self.limit is not None and self.spent + self.held + need > self.limit:
            return False
        self.held += need
        return True

    async def admit(self, need: int) -> bool:
        """Reserve ``need`` for a new row: wait while calls in flight hold money that may come back; False (and
        :attr:`exhausted`) once it cannot fit with nothing held, or after another row was refused."""
        cond = self._condition()
        async with cond:
            while True:
                if self.exhausted:
                    return False
                if self.hold(need):
                    return True
                if self.held == 0:  # nothing in flight can free money: the budget is spent
                    self.exhausted = True
                    cond.notify_all()
                    return False
                await cond.wait()

    async def settle(self, held: int, cost: int) -> None:
        """Release ``held`` and add ``cost`` to what was spent; wakes rows waiting for admission."""
        cond = self._condition()
        async with cond:
            self.held -= held
            self.spent += cost
            cond.notify_all()

    async def stop(self) -> None:
        """No new row starts (an error elsewhere); wakes the waiting ones."""
        cond = self._condition()
        async with cond:
            self.exhausted = True
            cond.notify_all()


class Tab:
    """One row's calls on ``budget``: ``credit`` is what its admission reserved (the first attempt of its answer),
    ``spent`` what its attempts cost (nano-dollars)."""

    def __init__(self, budget: Budget, credit: int = 0):
        self.budget = budget
        self.credit = credit
        self.spent = 0
        self.refused = 0  # attempts not made because the budget could not cover them

    @property
    def spent_usd(self) -> float:
        return to_usd(self.spent)

    def hold(self, need: int) -> int | None:
        """Reserve one attempt's upper bound (from the row's credit first); None when the budget cannot cover it."""
        if need <= self.credit:
            self.credit -= need
            return need
        if not self.budget.hold(need - self.credit):
            self.refused += 1
            return None
        self.credit = 0
        return need

    async def charge(self, held: int, cost_usd: float | None) -> None:
        """Settle one attempt: release what it held, count what it cost."""
        cost = to_nano(cost_usd)
        self.spent += cost
        await self.budget.settle(held, cost)

    async def close(self) -> None:
        """Return the unused credit (the row is done)."""
        credit, self.credit = self.credit, 0
        await self.budget.settle(credit, 0)


CURRENT_TAB: contextvars.ContextVar[Tab | None] = contextvars.ContextVar("workbench_row_tab", default=None)
