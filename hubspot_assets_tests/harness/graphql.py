"""The Dagster webserver's GraphQL API, used the way the UI uses it.

Backfills go through `launchPartitionBackfill` with `partitionNames` and
`assetSelection`, the same mutation the UI's "Materialize → backfill" dialog
sends; runs are then launched by the daemon, not by us.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import requests

#: The repository name Dagster gives a code location's `Definitions`.
REPOSITORY_NAME = "__repository__"

RUN_FINISHED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
BACKFILL_FINISHED = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)


class GraphQLError(RuntimeError):
    """The API answered with errors, or with an error type instead of a result."""


_LOCATIONS = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation { repositories { name } }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

_ADD_PARTITION = """
mutation AddDynamicPartition($repositorySelector: RepositorySelector!,
                             $partitionsDefName: String!, $partitionKey: String!) {
  addDynamicPartition(repositorySelector: $repositorySelector,
                      partitionsDefName: $partitionsDefName, partitionKey: $partitionKey) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

_LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PythonError { message stack }
  }
}
"""

_BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      partitionNames
      error { message }
    }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

_RUNS = """
query Runs($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results { runId status jobName tags { key value } startTime endTime }
    }
    ... on PythonError { message }
  }
}
"""

_RUN_FAILURES = """
query RunFailures($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent {
          stepKey
          error { message errorChain { error { message } } }
        }
        ... on RunFailureEvent { message }
      }
    }
    ... on PythonError { message }
  }
}
"""

_SENSOR_STATE = """
query SensorState($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { name sensorState { id status } }
    ... on SensorNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

_STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


_POOL = """
query Pool($key: String!) {
  instance { concurrencyLimit(concurrencyKey: $key) { concurrencyKey slotCount } }
}
"""

_SET_POOL = """
mutation SetPool($key: String!, $limit: Int!) {
  setConcurrencyLimit(concurrencyKey: $key, limit: $limit)
}
"""

_GROUP_ASSETS = """
query GroupAssets($group: AssetGroupSelector!) {
  assetNodes(group: $group) { assetKey { path } }
}
"""

_PARTITION_KEYS = """
query PartitionKeys($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode { partitionKeys }
    ... on AssetNotFoundError { message }
  }
}
"""


class DagsterGraphQL:
    """A small client for one webserver (`http://127.0.0.1:PORT`)."""

    def __init__(self, base_url: str, location: str = "hubspot_assets", timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.location = location
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.post(
            f"{self.base_url}/graphql",
            json={"query": text, "variables": variables or {}},
            timeout=self.timeout,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError("; ".join(e.get("message", str(e)) for e in body["errors"]))
        return body["data"]

    @property
    def repository_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": REPOSITORY_NAME}

    # -- code location ----------------------------------------------------------------

    def location_status(self) -> tuple[str, str | None]:
        """(`loadStatus`, load error message or None) of this stack's code location."""
        data = self.query(_LOCATIONS)["workspaceOrError"]
        if data["__typename"] != "Workspace":
            raise GraphQLError(data.get("message", data["__typename"]))
        for entry in data["locationEntries"]:
            if entry["name"] == self.location:
                loaded = entry["locationOrLoadError"] or {}
                error = loaded.get("message") if loaded.get("__typename") == "PythonError" else None
                return entry["loadStatus"], error
        return "MISSING", None

    def wait_location_loaded(self, timeout: float = 120.0) -> None:
        """Waits until the code location has loaded; raises with its load error if it failed."""
        deadline = time.monotonic() + timeout
        status, error = "MISSING", None
        while time.monotonic() < deadline:
            try:
                status, error = self.location_status()
            except (requests.RequestException, GraphQLError):
                status, error = "UNREACHABLE", None
            if error:
                raise GraphQLError(f"code location {self.location} failed to load:\n{error}")
            if status == "LOADED":
                return
            time.sleep(0.5)
        raise TimeoutError(f"code location {self.location} still {status} after {timeout:.0f}s")

    # -- partitions and sensors -------------------------------------------------------

    def add_dynamic_partition(self, partitions_def_name: str, key: str) -> bool:
        """Adds `key` as the UI's "Add partition" does; False if it already existed."""
        result = self.query(_ADD_PARTITION, {
            "repositorySelector": self.repository_selector,
            "partitionsDefName": partitions_def_name,
            "partitionKey": key,
        })["addDynamicPartition"]
        kind = result["__typename"]
        if kind == "AddDynamicPartitionSuccess":
            return True
        if kind == "DuplicateDynamicPartitionError":
            return False
        raise GraphQLError(f"addDynamicPartition({key}): {kind}: {result.get('message')}")

    def group_asset_keys(self, group: str) -> list[str]:
        """The assets of a group, as the group page's "Materialize all" selects them."""
        selector = {**self.repository_selector, "groupName": group}
        nodes = self.query(_GROUP_ASSETS, {"group": selector})["assetNodes"]
        return sorted("/".join(node["assetKey"]["path"]) for node in nodes)

    def partition_keys(self, asset_key: str) -> list[str]:
        """The partition keys an asset has now (for dynamic partitions: those added so far)."""
        result = self.query(_PARTITION_KEYS, {"assetKey": {"path": [asset_key]}})
        node = result["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise GraphQLError(f"asset {asset_key}: {node.get('message')}")
        return node["partitionKeys"]

    def sensor_status(self, sensor_name: str) -> tuple[str, str]:
        """(instigation state id, status) of a sensor."""
        selector = {**self.repository_selector, "sensorName": sensor_name}
        result = self.query(_SENSOR_STATE, {"selector": selector})["sensorOrError"]
        if result["__typename"] != "Sensor":
            problem = result.get("message", result["__typename"])
            raise GraphQLError(f"sensor {sensor_name}: {problem}")
        state = result["sensorState"]
        return state["id"], state["status"]

    def stop_sensor(self, sensor_name: str) -> None:
        """Turns a sensor off as the UI's toggle does (stored in the instance)."""
        state_id, status = self.sensor_status(sensor_name)
        if status == "STOPPED":
            return
        result = self.query(_STOP_SENSOR, {"id": state_id})["stopSensor"]
        if result["__typename"] != "StopSensorMutationResult":
            raise GraphQLError(f"stopSensor({sensor_name}): {result.get('message')}")

    def pool_limit(self, pool: str) -> int:
        """How many steps of `pool` may run at once (the UI's Deployment > Concurrency)."""
        info = self.query(_POOL, {"key": pool})["instance"]["concurrencyLimit"]
        return info["slotCount"]

    def set_pool_limit(self, pool: str, limit: int) -> None:
        """Sets a pool's limit as the UI's Deployment > Concurrency page does."""
        if not self.query(_SET_POOL, {"key": pool, "limit": limit})["setConcurrencyLimit"]:
            raise GraphQLError(f"setConcurrencyLimit({pool}, {limit}) was refused")

    # -- backfills and runs -----------------------------------------------------------

    def launch_partition_backfill(
        self,
        partition_names: Sequence[str],
        asset_keys: Iterable[str | Sequence[str]],
        *,
        title: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Launches an asset backfill over `partition_names`; returns the backfill id."""
        selection = [
            {"path": key.split("/") if isinstance(key, str) else list(key)} for key in asset_keys
        ]
        params: dict[str, Any] = {
            "partitionNames": list(partition_names),
            "assetSelection": selection,
            "fromFailure": False,
        }
        if title:
            params["title"] = title
        if tags:
            params["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        result = self.query(_LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise GraphQLError(
                f"launchPartitionBackfill: {result['__typename']}: {result.get('message')}"
            )
        return result["backfillId"]

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        result = self.query(_BACKFILL, {"backfillId": backfill_id})["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise GraphQLError(f"backfill {backfill_id}: {result.get('message')}")
        return result

    def runs(self, tags: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Runs (newest first) carrying all of `tags`; tags come back as a dict."""
        run_filter = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        result = self.query(_RUNS, {"filter": run_filter})["runsOrError"]
        if result["__typename"] != "Runs":
            raise GraphQLError(f"runs: {result.get('message')}")
        runs = result["results"]
        for run in runs:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return runs

    def backfill_runs(self, backfill_id: str) -> list[dict[str, Any]]:
        return self.runs({"dagster/backfill": backfill_id})

    def run_failure_messages(self, run_id: str) -> list[str]:
        """Messages of a run's step failures and of its run failure event."""
        result = self.query(_RUN_FAILURES, {"runId": run_id})["logsForRun"]
        if result["__typename"] != "EventConnection":
            raise GraphQLError(f"logsForRun({run_id}): {result.get('message')}")
        messages = []
        for event in result["events"]:
            if event["__typename"] == "ExecutionStepFailureEvent" and event.get("error"):
                # The first message is Dagster's wrapper; the causes hold the asset's own.
                error = event["error"]
                chain = [link["error"]["message"] for link in error.get("errorChain") or []]
                text = " <- ".join(m.strip() for m in [error["message"], *chain])
                messages.append(f"{event['stepKey']}: {text}")
            elif event["__typename"] == "RunFailureEvent" and event.get("message"):
                messages.append(event["message"])
        return messages

    def wait_backfill(self, backfill_id: str, *, timeout: float,
                      interval: float = 2.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Polls until the backfill and every run it launched have finished.

        Returns (backfill, runs). The daemon marks a backfill finished on its
        next iteration after the last run, so both are checked.
        """
        deadline = time.monotonic() + timeout
        while True:
            backfill = self.backfill(backfill_id)
            runs = self.backfill_runs(backfill_id)
            if backfill["status"] in BACKFILL_FINISHED and all(
                run["status"] in RUN_FINISHED for run in runs
            ):
                return backfill, runs
            if time.monotonic() > deadline:
                states = ", ".join(f"{r['tags'].get('dagster/partition')}={r['status']}"
                                   for r in runs) or "no runs yet"
                raise TimeoutError(
                    f"backfill {backfill_id} still {backfill['status']} after {timeout:.0f}s "
                    f"({states})"
                )
            time.sleep(interval)
