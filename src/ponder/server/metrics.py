"""Prometheus metrics of one server, in a registry of its own (so two apps in one process do not mix)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ponder_http_requests", "HTTP requests answered", ["path", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ponder_http_request_duration_seconds",
            "Time from request to the end of the response",
            ["path"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.turns_in_flight = Gauge("ponder_turns_in_flight", "Turns running now", registry=self.registry)
        self.turns = Counter(
            "ponder_turns", "Turns finished, by mode", ["mode", "outcome"], registry=self.registry
        )
        self.tokens = Counter("ponder_tokens", "Tokens, by kind", ["kind"], registry=self.registry)
        self.rejected = Counter(
            "ponder_rejected_requests", "Requests refused before a turn", ["reason"], registry=self.registry
        )
        self.time_to_first_token = Histogram(
            "ponder_time_to_first_token_seconds",
            "Time to first token, by mode",
            ["mode"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )

        self.perception_seconds = Histogram(
            "ponder_perception_seconds",
            "Time spent reading a request's images and audio (OCR, image analysis, speech recognition)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
