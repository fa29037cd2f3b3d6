"""The `metrics` section: whether Prometheus metrics are collected and served."""

import attrs

from synapse.config._base import ParseContext

KEYS = frozenset({"enable_metrics"})


@attrs.frozen
class MetricsConfig:
    enable_metrics: bool

    @classmethod
    def parse(cls, ctx: ParseContext) -> "MetricsConfig":
        return cls(enable_metrics=ctx.root["enable_metrics"].as_bool(False))
