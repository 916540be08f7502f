"""What ``/metrics`` says, read as a test reads it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import RunningServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(server: RunningServer, **headers: str) -> Samples:
    answer = server.client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)
