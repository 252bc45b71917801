"""The model registry: register each trained model, gate it, promote it, roll it back.

MLflow 3 aliases, not the deprecated stages. Every trained model is registered as a new
version and gets the alias `challenger`. It becomes `champion` (the model that serves) only by
passing the gate: the quality bar of params.yaml (thresholds, baselines, slices) and no more
than `gate.max_drop_vs_champion` worse than the current champion on the same test data. A
champion that took other input columns (the same target and classes) is scored with its own
columns of the same test rows; only one that predicts another target or other classes, or needs
a column the test split lacks, cannot be compared: the new model is then the first of its
contract, judged on the bar alone, and the decision says why.
`promote` and `rollback` move the champion by hand. The registered model keeps the list of
its champions in a tag, so rollback knows where to go back to.

Each registered version carries the digest of its files (tag `model.sha256`, integrity.py),
checked at registration against the one its training run recorded, and by every loader after
that: the gate loads the champion to compare with only if its files still match. `promote`
records the digest of a version registered before digests were (trusting its files as they are
then), and checks it otherwise.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mlops_ladder import integrity, metrics, project
from mlops_ladder.config import Params, Settings
from mlops_ladder.errors import ProjectError
from mlops_ladder.model import predict
from mlops_ladder.schema import Schema
from mlops_ladder.tracking import (
    connect,
    is_server_problem,
    read_metadata_of_run,
    server_errors,
)

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
HISTORY_LENGTH = 50


class RegistryError(ProjectError):
    """The registry cannot do what was asked (unknown version, nothing to roll back to)."""


@dataclass
class Decision:
    """What the gate decided for one registered version, and why."""

    model_name: str
    version: str
    promoted: bool
    champion_before: str | None
    champion_after: str | None
    reasons: list[str] = field(default_factory=list)
    # How the champion's contract (its inputs, target, classes) differs from this model's.
    new_contract: str | None = None
    # The digest of the version's files (integrity.py), as its tag `model.sha256` records it.
    model_sha256: str | None = None
    # The computing costs beside the champion's (evaluate.cost_comparison), when compared.
    costs: dict[str, Any] | None = None
    # Whether the champion was scored on the same test rows (with its own input columns where
    # only they changed), and when there was a champion but it was not, why: then this model
    # was judged on the bar alone, as the first of its contract.
    champion_compared: bool = False
    not_compared: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.promoted:
            if not self.new_contract:
                first = ""
            elif self.champion_compared:
                first = (
                    f" (a new contract: {self.new_contract}; compared with the champion "
                    f"v{self.champion_before} on its own inputs)"
                )
            else:
                first = f" (first of a new contract: {self.new_contract}; {self.not_compared})"
            return (
                f"{self.model_name} v{self.version} passed the gate{first}: it is the champion now"
            )
        if not self.reasons:
            return f"{self.model_name} v{self.version} is already the champion"
        kept = f"v{self.champion_before}" if self.champion_before else "no champion"
        lines = [f"{self.model_name} v{self.version} refused by the gate ({kept} stays):"]
        return "\n".join([*lines, *(f"  - {reason}" for reason in self.reasons)])


def client_for(settings: Settings) -> MlflowClient:
    connect(settings)
    return MlflowClient()


@server_errors
def register(
    settings: Settings,
    params: Params,
    schema: Schema,
    run: dict[str, str],
    report: dict[str, Any],
    test_split: pd.DataFrame,
    model_metadata: dict[str, Any],
) -> Decision:
    """Register the run's model, make it challenger, and champion if it passes the gate."""
    client = client_for(settings)
    name = settings.model_name
    version = ensure_version(client, name, run)
    model_sha256 = version_digest(client, name, version)  # before any alias points at it
    client.set_registered_model_alias(name, CHALLENGER, version)
    before = champion_version(client, name)

    reasons = [*report["quality"]["failures"], *provenance_problems(model_metadata, params)]
    new_contract = not_compared = None
    compared = False
    costs: dict[str, Any] | None = None
    if before is None:
        not_compared = "the first champion: none to compare with"
        costs = {"compared": False, "note": not_compared}
    elif before != version:
        theirs, ours = champion_contract(client, name, before), contract(model_metadata)
        new_contract = contract_change(theirs, ours)
        obstacle = (
            None
            if new_contract is None
            else comparison_obstacle(theirs, ours, test_split, params.feature_store is not None)
        )
        if obstacle is None:
            own = theirs["inputs"] if new_contract and theirs else None
            note = own_inputs_note(own, ours["inputs"], version)
            found, costs = compare_with_champion(
                client,
                name,
                before,
                report,
                test_split,
                schema,
                params,
                run["model_uri"],
                own,
                note,
            )
            reasons += found + costs["failures"]
            compared = True
            if new_contract:
                log.info(
                    "the champion v%s has another contract (%s): compared on the same test rows "
                    "with its own inputs",
                    before,
                    new_contract,
                )
        else:
            not_compared = f"not compared with the champion v{before}: {obstacle}"
            costs = {"compared": False, "note": not_compared}
            log.info(
                "the champion v%s has another contract (%s), not compared: %s",
                before,
                new_contract,
                obstacle,
            )

    promoted = False
    if before == version:
        reasons = []  # registering the same run again changes nothing
    elif not reasons:
        set_champion(client, name, version, by="gate")
        promoted = True
    client.set_model_version_tag(name, version, "gate", "passed" if not reasons else "refused")
    if reasons:
        client.set_model_version_tag(name, version, "gate.reasons", "; ".join(reasons)[:5000])
    if new_contract:
        client.set_model_version_tag(name, version, "gate.new_contract", new_contract[:5000])
        client.set_model_version_tag(
            name, version, "gate.champion_compared", "yes" if compared else "no"
        )
    if not_compared and before is not None:
        client.set_model_version_tag(name, version, "gate.not_compared", not_compared[:5000])
    return Decision(
        name,
        version,
        promoted,
        before,
        champion_version(client, name),
        reasons,
        new_contract,
        model_sha256,
        costs,
        compared,
        not_compared,
    )


def version_digest(client: MlflowClient, name: str, version: str) -> str:
    """The digest of a registered version's files as stored now, checked against the one
    recorded for it (the version's tag, else its training run's) and recorded on the version
    when it has none (a version registered before digests were: its files trusted as they
    are). A mismatch is a ModelIntegrityError: the version is never aliased or loaded."""
    entry = client.get_model_version(name, version)
    expected = recorded_digest(client, entry)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=tmp
            )
        )
        if expected is None:
            found = integrity.digest(folder)
        else:
            found = integrity.verify(folder, expected, f"{name} v{version}")
    if entry.tags.get(integrity.TAG) != found:
        client.set_model_version_tag(name, version, integrity.TAG, found)
    return found


def provenance_problems(model_metadata: dict[str, Any], params: Params) -> list[str]:
    """A champion's spec is reviewed and committed: where params.yaml gate.require_committed
    applies, a model trained from an unknown commit or uncommitted changes is refused."""
    rule = params.gate.require_committed
    if rule == "never" or (rule == "ci" and os.environ.get("GITHUB_ACTIONS") != "true"):
        return []
    git = model_metadata.get("git") or {}
    if not git.get("commit"):
        return ["trained outside a git commit: commit the code and retrain"]
    if git.get("dirty"):
        changed = ", ".join(git.get("changed") or []) or "the model spec"
        return [f"trained with uncommitted changes ({changed}): commit them and retrain"]
    return []


def contract(metadata: dict[str, Any]) -> dict[str, Any]:
    """What a model takes and gives: its input columns, its target and its classes."""
    return {key: metadata.get(key) for key in ("inputs", "target", "classes")}


def champion_contract(client: MlflowClient, name: str, champion: str) -> dict[str, Any] | None:
    """The champion's contract as its training run recorded it; None where it cannot be read."""
    run_id = client.get_model_version(name, champion).run_id
    if run_id is None:  # a version made from files, not from a training run
        return None
    try:
        return contract(read_metadata_of_run(run_id))
    except MlflowException as error:
        if is_server_problem(error):  # the server is away: not a reason to skip the comparison
            raise
        return None


def contract_change(theirs: dict[str, Any] | None, ours: dict[str, Any]) -> str | None:
    """How the champion's contract differs from the new model's, or None when it is the same."""
    if theirs is None:
        return "the champion's metadata cannot be read"
    changes = []
    if theirs["target"] != ours["target"]:
        changes.append(f"target {theirs['target']} -> {ours['target']}")
    if theirs["inputs"] != ours["inputs"]:
        gone = [column for column in theirs["inputs"] or [] if column not in ours["inputs"]]
        new = [column for column in ours["inputs"] or [] if column not in (theirs["inputs"] or [])]
        changes.append(f"inputs: {len(gone)} gone, {len(new)} new")
    if theirs["classes"] != ours["classes"]:
        changes.append(f"classes {theirs['classes']} -> {ours['classes']}")
    return "; ".join(changes) or None


def comparison_obstacle(
    theirs: dict[str, Any] | None,
    ours: dict[str, Any],
    test_split: pd.DataFrame,
    feature_store: bool = False,
) -> str | None:
    """Why a champion of another contract cannot be scored on the gate's test split, or None
    when it can: the same target and classes, and every input column it takes in the split
    (the split stage keeps the columns schema.yaml ignores; a feature store's training set
    holds the features only)."""
    if theirs is None:
        return (
            "its metadata cannot be read (a version made from files, or its run deleted): "
            "`make rollback` goes back to it"
        )
    if theirs["target"] != ours["target"]:
        return (
            f"it predicts another target ({theirs['target']}, this model {ours['target']}): "
            f"set schema.yaml target back to {theirs['target']} to have the two compared"
        )
    if theirs["classes"] != ours["classes"]:
        return (
            f"it predicts other classes ({theirs['classes']}, this model {ours['classes']}): "
            "check the labels in the data"
        )
    if not theirs["inputs"]:
        return "its input columns are not recorded"
    missing = [column for column in theirs["inputs"] if column not in test_split.columns]
    if missing and feature_store:
        return (
            f"the feature store holds this model's inputs only, not {', '.join(missing)}: "
            "`make rollback` goes back to the champion"
        )
    if missing:
        plural = len(missing) > 1
        return (
            f"the test split lacks its input{'s' if plural else ''} {', '.join(missing)}: keep "
            f"{'them' if plural else 'it'} in the data (under schema.yaml ignored:) to have "
            "the two models compared"
        )
    return None


def ensure_version(client: MlflowClient, name: str, run: dict[str, str]) -> str:
    """The version registered from this run, registering it on first sight (idempotent)."""
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if is_server_problem(error):
            raise
        new = True
    else:
        new = False
        existing = client.search_model_versions(f"name = '{name}' and run_id = '{run['run_id']}'")
        if existing:
            return str(existing[0].version)
    registered = mlflow.register_model(run["model_uri"], name)  # creates the model if new
    if new:
        summary = project.current().description
        client.update_registered_model(name, description=summary)
    log.info("registered %s v%s from run %s", name, registered.version, run["run_id"])
    return str(registered.version)


def compare_with_champion(
    client: MlflowClient,
    name: str,
    champion_version: str,
    report: dict[str, Any],
    test_split: pd.DataFrame,
    schema: Schema,
    params: Params,
    model_uri: str,
    champion_inputs: list[str] | None = None,
    note: str = "",
) -> tuple[list[str], dict[str, Any]]:
    """Score the champion on the same test split; refuse a challenger that is clearly worse.
    The champion is loaded only if its files match the digest recorded at its registration.
    Its computing costs too, both models timed here on the same records (monitoring-6).
    `champion_inputs`: the champion's own input columns, where they are not the challenger's
    (the same target and classes): it is scored with them, on the same rows. `note`: what a
    refusal for a drop adds (own_inputs_note)."""
    from mlops_ladder.evaluate import cost_comparison

    primary = params.quality.primary_metric
    champion = load_verified(client, name, champion_version, f"the champion {name}")
    target, inputs = schema.target.name, test_split[schema.feature_names]
    theirs_inputs = None if champion_inputs is None else test_split[champion_inputs]
    scored_with = inputs if theirs_inputs is None else theirs_inputs
    scores = metrics.compute_metrics(test_split[target], *predict(champion, scored_with))
    run_id = client.get_model_version(name, champion_version).run_id
    trained = None
    if run_id is not None:  # else a version made from files, not from a training run
        try:
            trained = read_metadata_of_run(run_id).get("training_seconds")
        except MlflowException as error:
            if is_server_problem(error):
                raise
    model = mlflow.sklearn.load_model(model_uri)
    costs = cost_comparison(
        report.get("costs") or {}, model, champion, trained, inputs, params.gate, theirs_inputs
    )
    ours, theirs = report["test"].get(primary), scores.get(primary)
    if ours is None or theirs is None:
        return [
            f"{primary} is not defined on the test split: cannot compare with the champion"
        ], costs
    drop = theirs - ours if metrics.higher_is_better(primary) else ours - theirs
    allowed = params.gate.max_drop_vs_champion
    if drop > allowed:
        return [
            f"{primary} {ours:.4f} is {drop:.4f} worse than the champion's {theirs:.4f} "
            f"on the same test data (at most {allowed} allowed)" + note
        ], costs
    return [], costs


def own_inputs_note(champion_inputs: list[str] | None, inputs: list[str], version: str) -> str:
    """What a refusal for a drop adds where the champion was scored with input columns of its
    own: which ones this model lacks, and what to change."""
    if champion_inputs is None:
        return ""
    gone = [column for column in champion_inputs if column not in (inputs or [])]
    if not gone:
        return "; the champion scored with its own inputs"
    shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
    them = "them" if len(gone) > 1 else "it"
    return (
        f"; the champion scored with its own inputs, which include {shown}: put {them} back "
        f"under schema.yaml features:, or `make promote VERSION={version}` if {them} must go"
    )


def recorded_digest(client: MlflowClient, entry: Any) -> str | None:
    """A registered version's digest: its own tag, else its training run's."""
    expected = entry.tags.get(integrity.TAG)
    if expected is None and entry.run_id:
        expected = client.get_run(entry.run_id).data.tags.get(integrity.TAG)
    return expected


def load_verified(client: MlflowClient, name: str, version: str, what: str) -> Any:
    """The scikit-learn model of a registered version, after its files were checked against
    its digest (the version's, else its training run's, as serving reads it)."""
    expected = recorded_digest(client, client.get_model_version(name, version))
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"models:/{name}/{version}"
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        integrity.verify(folder, expected, f"{what} v{version}")
        return mlflow.sklearn.load_model(str(folder))


def champion_version(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException as error:
        if is_server_problem(error):  # a server that is away is no "no champion"
            raise
        return None


@server_errors
def served_versions(settings: Settings, versions: list[str]) -> dict[str, Any]:
    """For the monitoring job: the champion's version, and for it and each of `versions`,
    when it was registered and the test scores its training run logged (evaluate's, `test_*`).
    A version the registry does not know is left out."""
    client = client_for(settings)
    name = settings.model_name
    champion = champion_version(client, name)
    found: dict[str, Any] = {}
    for version in dict.fromkeys([*([champion] if champion else []), *versions]):
        try:
            entry = client.get_model_version(name, version)
            run = client.get_run(entry.run_id) if entry.run_id else None
        except MlflowException as error:
            if is_server_problem(error):
                raise
            continue
        scores = run.data.metrics if run is not None else {}
        found[version] = {
            "registered_at": datetime.fromtimestamp(entry.creation_timestamp / 1000, UTC),
            "test": {
                key.removeprefix("test_"): value
                for key, value in scores.items()
                if key.startswith("test_")
            },
        }
    return {"champion": champion, "versions": found}


def history(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags
    return [item for item in tags.get(HISTORY_TAG, "").split(",") if item]


def set_champion(client: MlflowClient, name: str, version: str, by: str) -> None:
    """Point `champion` at `version` and remember it in the history."""
    client.set_registered_model_alias(name, CHAMPION, version)
    past = [*history(client, name), version][-HISTORY_LENGTH:]
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(past))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(name, version, "promoted_at", now)
    client.set_model_version_tag(name, version, "promoted_by", by)


@server_errors
def promote(settings: Settings, version: str) -> Decision:
    """Make `version` the champion by hand, whatever the gate said."""
    client = client_for(settings)
    name = settings.model_name
    try:
        client.get_model_version(name, version)
    except MlflowException as error:
        if is_server_problem(error):
            raise
        raise RegistryError(f"{name} has no version {version}") from None
    model_sha256 = version_digest(client, name, version)
    before = champion_version(client, name)
    if before != version:
        set_champion(client, name, version, by="promote")
    return Decision(name, version, before != version, before, version, model_sha256=model_sha256)


@server_errors
def rollback(settings: Settings) -> Decision:
    """Move the champion back to the one before it."""
    client = client_for(settings)
    name = settings.model_name
    try:
        past = history(client, name)
    except MlflowException as error:
        if is_server_problem(error):
            raise
        raise RegistryError(f"no registered model named {name}") from None
    current = champion_version(client, name)
    # The history ends with the current champion unless the alias was moved elsewhere.
    if past and past[-1] == current:
        past = past[:-1]
    if not past:
        raise RegistryError(f"{name} has no earlier champion to roll back to")
    previous = past[-1]
    client.set_registered_model_alias(name, CHAMPION, previous)
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(past))
    if current is not None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        client.set_model_version_tag(name, current, "rolled_back_at", now)
    log.info("rolled %s back from v%s to v%s", name, current, previous)
    return Decision(name, previous, True, current, previous)
