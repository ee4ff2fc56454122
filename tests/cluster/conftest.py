"""The cluster for tests/cluster: started once per session on free ports, with its own
PostgreSQL database and Redis database number, stopped (and its database dropped) at the end."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.cluster import (
    Cluster,
    drop_database,
    postgresql,
    postgresql_ready,
    start_cluster,
)

RESULTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "cluster-results.json"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not postgresql_ready():
        postgresql("start")
    redis_db = int(os.environ.get("TWOSTEP_CLUSTER_TEST_REDIS_DB", "12"))
    running = start_cluster(tmp_path_factory.mktemp("cluster"), redis_db)
    try:
        yield running
    finally:
        if not postgresql_ready():
            postgresql("start")
        running.stop()
        drop_database(running.database)


@pytest.fixture(scope="session")
def results() -> Iterator[dict[str, Any]]:
    """Figures the tests measured; written to test-artifacts/cluster-results.json."""
    collected: dict[str, Any] = {}
    yield collected
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(collected, indent=2, default=str) + "\n")
