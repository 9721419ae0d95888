"""Thin Celery tasks for backtests and the rule advisor: ids in, one service call.

Both recompute everything from the stored contacts and parameters (a finished run is
left alone), so redelivery under acks_late and retries on transient DB errors are safe.

Celery's autodiscovery only imports `<app>.tasks`; a worker registers these through
CELERY_IMPORTS or any import of this module. The tasks keep the names of the module they came
from (scoring.tasks_advisor), so messages queued before an upgrade still find them.
"""

from celery import shared_task

from crm.retry import RETRY


@shared_task(name="scoring.tasks_advisor.backtest_task", **RETRY)
def backtest_task(backtest_id: int) -> None:
    from scoring.advisor.backtest import backtest_run

    backtest_run(backtest_id=backtest_id)


@shared_task(name="scoring.tasks_advisor.advise_task", **RETRY)
def advise_task(backtest_id: int) -> None:
    from scoring.advisor import advisor_run

    advisor_run(backtest_id=backtest_id)
