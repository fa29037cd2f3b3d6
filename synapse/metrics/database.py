"""Prometheus metrics for database transactions, labelled by `desc`.

`desc` is the short name a store gives each interaction ("get_user_by_id"),
so the label set is bounded by the code, not by data. Time waiting for a
pooled connection is reported apart from time spent in the transaction: a
slow server with fast transactions means the pool is too small.
"""

from prometheus_client import Counter, Histogram

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

transaction_seconds = Histogram(
    "synapse_storage_transaction_seconds",
    "Time spent running a database interaction (all attempts), by desc",
    ["desc"],
    buckets=_BUCKETS,
)
transaction_wait_seconds = Histogram(
    "synapse_storage_transaction_wait_seconds",
    "Time an interaction waited for a pooled connection, by desc",
    ["desc"],
    buckets=_BUCKETS,
)
transaction_retries = Counter(
    "synapse_storage_transaction_retries_total",
    "Transactions rerun after a serialization failure, deadlock or lock timeout, by desc",
    ["desc"],
)
transaction_failures = Counter(
    "synapse_storage_transaction_failures_total",
    "Interactions that ended with an exception, by desc",
    ["desc"],
)


def record_transaction(desc: str, wait_seconds: float, run_seconds: float, retries: int, failed: bool) -> None:
    """Account one finished interaction."""
    transaction_wait_seconds.labels(desc).observe(wait_seconds)
    transaction_seconds.labels(desc).observe(run_seconds)
    if retries:
        transaction_retries.labels(desc).inc(retries)
    if failed:
        transaction_failures.labels(desc).inc()
