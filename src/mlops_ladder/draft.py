"""Draft the data contract (schema.yaml) from a table: `schema draft FILE --target COLUMN`.

The draft is a start to read and edit, not a verdict: every rule it applies is stated in the
file it writes. Columns are typed from their values; numbers get generous bounds, categories
their allowed values; identifiers, free text, dates and constants are listed as ignored (not
model inputs) with the reason; the target gets its classes or its range.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_ladder.data import is_date, is_year
from mlops_ladder.errors import OTHER_TASK, ConfigError, DataError
from mlops_ladder.schema import Schema

MAX_CATEGORIES = 50  # more distinct texts than this (or than half the rows): free text
MAX_CLASSES = 20  # a whole-number target with more distinct values is a quantity, not classes
MAX_SLICE_CATEGORIES = 10
# Fewer labelled rows than this leave too little to learn from and to test on.
MIN_ROWS = 20
HEADER = """\
# The data contract, drafted by `schema draft` from {source} ({rows} rows). Read it and edit
# it: `validate` checks every rule before training; batch prediction and serving check each
# record against the same columns and ranges.
#
# How it was drafted:
# - dtype: whole numbers are int, other numbers float, true/false bool; a text column with at
#   most {max_categories} distinct values (and fewer than half the rows) is a category with
#   its allowed values. `nullable: true` where values are missing (the model imputes them).
# - bounds: the observed range widened by its width on each side, rounded outward, and never
#   below 0 for a column with no negative value. They catch broken data (units, shifts,
#   corruption), not unusual rows: tighten them to the physical limits you know.
# - ignored: columns that are not model inputs, with the reason (identifiers and constants
#   tell the model nothing true; free text and dates need features of their own in
#   features.py). Move one into `features` to use it.
"""


@dataclass
class Draft:
    """What `draft` found: the contract's content, and notes for the summary."""

    source: str
    rows: int
    task: str
    target: dict[str, Any]
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    observed: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    slices: list[dict[str, str]] = field(default_factory=list)
    unlabelled: int = 0
    warnings: list[str] = field(default_factory=list)
    store_keys: dict[str, str] = field(default_factory=dict)  # params.yaml feature_store
    years: list[str] = field(default_factory=list)  # columns of calendar years (YEAR_NAME)

    def time_column(self) -> str | None:
        """The ignored column of dates or times (the one named like a time, if several)."""
        return time_column(list(self.ignored), self.ignored)

    def year_column(self) -> str | None:
        """The column of whole calendar years (the first, if several): it can order the
        staleness backtest as a date column does (params.yaml evaluate.order_by)."""
        return self.years[0] if self.years else None

    def to_yaml(self) -> str:
        lines = [HEADER.format(source=self.source, rows=self.rows, max_categories=MAX_CATEGORIES)]
        lines.append(f"target:  # {self.task}")
        lines += [f"  {key}: {_flow(value)}" for key, value in self.target.items()]
        lines.append("\nfeatures:")
        for name, spec in self.features.items():
            lines.append(f"  {_flow(name)}: {_flow(spec)}  # {self.observed[name]}")
        if self.ignored:
            lines.append("\nignored:")
            lines += [f"  {_flow(name)}: {_flow(why)}" for name, why in self.ignored.items()]
        lines.append(
            "\n# min_rows: half the rows drafted from, so a truncated extract fails;"
            "\n# max_duplicate_share: the share seen, plus one point;"
            "\n# max_single_feature_score: leakage guard, how well one column alone may"
            "\n# predict the target (1: exactly; a copy of the target under another name)."
            "\ndataset:"
        )
        lines += [f"  {key}: {_flow(value)}" for key, value in self.dataset.items()]
        lines.append(
            "\n# Parts of the test split the model must serve well too (pandas queries; names"
            "\n# with spaces or symbols in backticks): each value of the category with the"
            "\n# fewest values, or else each side of the first number's median."
            "\nslices:"
        )
        lines += [
            f"  - name: {_flow(piece['name'])}\n    query: {_flow(piece['query'])}"
            for piece in self.slices
        ]
        return "\n".join(lines) + "\n"

    def summary(self, output: str) -> str:
        kinds = pd.Series([spec["dtype"] for spec in self.features.values()]).value_counts()
        nullable = sum(1 for spec in self.features.values() if spec.get("nullable"))
        if self.task == "classification":
            classes = self.target["allowed"]
            what = f"{len(classes)} classes: {', '.join(map(str, classes[:8]))}"
            what += ", ..." if len(classes) > 8 else ""
        else:
            what = f"range {self.target['min']} to {self.target['max']}"
        lines = [
            f"drafted {output} from {self.source}: {self.rows} rows",
            f"  task: {self.task}, target '{self.target['name']}' ({what})",
            f"  features: {len(self.features)} ("
            + ", ".join(f"{count} {kind}" for kind, count in kinds.items())
            + f"; {nullable} nullable)",
        ]
        lines += [f"  ignored: {name}: {why}" for name, why in self.ignored.items()]
        if self.store_keys:
            found = ", ".join(f"{key}: {value}" for key, value in self.store_keys.items())
            lines.append(f"  feature store: {found} (params.yaml feature_store)")
        if self.unlabelled:
            lines.append(f"  {self.unlabelled} rows have no target: dropped before training")
        lines += [f"  warning: {text}" for text in self.warnings]
        lines.append(
            f"next: set params.yaml ingest.source to {self.source}, then `make all` "
            "(read the draft first)"
        )
        return "\n".join(lines)


def draft(
    frame: pd.DataFrame,
    target: str,
    source: str,
    task: str,
    feature_store: bool = False,
    test_size: float = 0.2,
) -> Draft:
    """The contract for `frame`, predicting `target`, for the project's task (params.yaml);
    with a `feature_store`, its entity key and event time where the data has them. A table too
    small to learn from and test on (params.yaml split.test_size) is one clear error."""
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        hint = ""
        if len(frame.columns) == 1 and re.search(r"[;,\t|]", str(frame.columns[0])):
            hint = ": one column whose name holds a separator; is the file delimited otherwise?"
        raise DataError(f"{source} has no column '{target}' (its columns: {columns}){hint}")
    labels = frame[target]
    labelled_rows = int(labels.notna().sum())
    if 0 < labelled_rows < MIN_ROWS:
        raise DataError(
            f"{source}: {labelled_rows} labelled rows, too few to learn from and test on "
            f"(at least {MIN_ROWS})"
        )
    result = Draft(source, len(frame), task, draft_target(labels, target, source, task, test_size))
    result.unlabelled = int(labels.isna().sum())
    for name in frame.columns:
        if name == target:
            continue
        kind = ignore_reason(frame[name])
        if kind:
            result.ignored[str(name)] = kind
        else:
            result.features[str(name)], result.observed[str(name)] = draft_feature(frame[name])
    result.years = [  # a feature, or ignored (a different year on every row: an "identifier")
        str(name)
        for name in frame.columns
        if name != target and YEAR_NAME.search(str(name)) and is_year(frame[name].dropna())
    ]
    for name in result.years:
        if name in result.features:
            # Time goes on: a bound above the data's last year would refuse every record of a
            # year to come once it comes (serving answers 422 to all of them).
            result.features[name].pop("max", None)
            result.observed[name] += "; no max: years to come"
    if not result.features:
        raise DataError(f"{source}: no column can be a model input (see the ignored reasons)")
    labelled = frame[labels.notna()]
    duplicates = float(labelled.duplicated().mean()) if len(labelled) else 0.0
    result.dataset = {
        "min_rows": max(1, len(labelled) // 2),
        "max_duplicate_share": min(1.0, math.ceil((duplicates + 0.01) * 100) / 100),
        "max_single_feature_score": 0.99,
    }
    result.slices = draft_slices(result.features, frame)
    if feature_store:
        result.store_keys = feature_store_keys(frame, result.ignored)
    schema = Schema.model_validate(
        {
            "target": result.target,
            "features": result.features,
            "dataset": result.dataset,
            "ignored": result.ignored,
            "slices": result.slices,
        }
    )
    from mlops_ladder.data import ordered_by_target
    from mlops_ladder.validate import single_feature_scores

    ordered = ordered_by_target(labels, task == "classification")
    if ordered:
        result.warnings.append(
            f"{ordered}: not the order of time, so the staleness backtest is not measured "
            "(set params.yaml evaluate.order_by to a time column to measure it)"
        )

    for name, score in single_feature_scores(labelled, schema).items():
        if score > result.dataset["max_single_feature_score"]:
            result.warnings.append(
                f"'{name}' alone predicts the target (score {score:.3f}): leakage? validation "
                "will refuse it until you move it to ignored or raise max_single_feature_score"
            )
    for name in result.features:
        blocks = group_blocks(frame[name])
        if blocks:
            result.warnings.append(
                f"'{name}' holds {blocks}: the number of a group (a person, a store)? The "
                "random split puts rows of one group in train and test, where the test score "
                "then counts knowing the group: if it is one, move it to ignored"
            )
    return result


# A panel's group number (Ecdat's Males: `nr`, 545 men of 8 rows each) passes for a whole-number
# feature. What tells it apart from a measure with repeated values (a day of the month, an
# age): many distinct values, each on a block of rows of about the same size.
MIN_GROUPS = 50


def group_blocks(values: pd.Series) -> str | None:
    """How a whole-number column repeats, where it looks like a group's number: at least
    MIN_GROUPS values, each on 2 rows or more, the largest block at most twice the smallest."""
    present = values.dropna()
    if present.empty or _is_bool(present) or not _is_number(present):
        return None
    if not bool((present % 1 == 0).all()) or is_year(present):
        return None
    counts = present.value_counts()
    if len(counts) < MIN_GROUPS or counts.min() < 2 or counts.max() > 2 * counts.min():
        return None
    sizes = (
        f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()} to {counts.max()}"
    )
    return f"{len(counts)} whole numbers, each on {sizes} rows"


def draft_target(
    labels: pd.Series, name: str, source: str, task: str, test_size: float = 0.2
) -> dict[str, Any]:
    present = labels.dropna()
    if present.empty:
        raise DataError(f"{source}: target '{name}' has no values")
    distinct = present.unique()
    numeric = _is_number(present)
    whole = numeric and bool((present % 1 == 0).all())
    looks_like_classes = not numeric or (whole and len(distinct) <= MAX_CLASSES)
    spec: dict[str, Any] = {"name": str(name)}
    if task == "classification":
        if not looks_like_classes:
            raise DataError(
                f"target '{name}' holds {len(distinct)} distinct numbers: that is regression, "
                f"and this is a classification project: {OTHER_TASK.format(task='regression')}"
            )
        if len(distinct) < 2:
            raise DataError(f"target '{name}' has a single class: nothing to learn")
        if not numeric and len(distinct) > MAX_CATEGORIES:
            raise DataError(
                f"target '{name}' has {len(distinct)} distinct texts: too many classes for a "
                f"classifier (at most {MAX_CATEGORIES})"
            )
        spec["dtype"] = "bool" if _is_bool(present) else "int" if whole else "category"
        # The split is stratified: each class needs enough rows for the test split to hold one.
        counts = present.value_counts()
        needed = math.ceil(round(1 / test_size, 6))
        if int(counts.min()) < needed:
            label = _plain(counts.idxmin())
            raise DataError(
                f"target '{name}': class {label!r} has {int(counts.min())} labelled rows; each "
                f"class needs at least {needed} so that the test split (params.yaml "
                f"split.test_size {test_size:g}) holds one: gather more rows of it, or drop "
                "or merge it"
            )
        spec["allowed"] = sorted(_plain(value) for value in distinct)
        shares = present.value_counts(normalize=True)
        # The class-share floor: half the rarest class's share, so today's data passes and a
        # class that fades away does not.
        spec["min_class_share"] = max(0.001, math.floor(float(shares.min()) / 2 * 1000) / 1000)
    else:
        if not numeric or len(distinct) <= 2:
            shown = ", ".join(map(str, sorted(map(str, distinct))[:5]))
            raise DataError(
                f"target '{name}' holds categories ({shown}): that is classification, and "
                f"this is a regression project: {OTHER_TASK.format(task='classification')}"
            )
        spec["dtype"] = "int" if whole else "float"
        spec.update(_bounds(present, whole))
    spec["missing"] = "drop"
    return spec


def ignore_reason(values: pd.Series) -> str:
    """Why a column cannot be a model input as it is, or '' when it can."""
    present = values.dropna()
    if present.empty:
        return "no values"
    distinct = present.nunique()
    if distinct == 1:
        return f"constant ({_plain(present.iloc[0])}): tells the model nothing"
    if _is_bool(present):
        return ""
    if _is_number(present):
        unique_whole = distinct == len(values) and bool((present % 1 == 0).all())
        return "identifier: a different whole number on every row" if unique_whole else ""
    if is_date(present):
        # Derived features (features.py) read the contract's features, which are never dates:
        # a date's parts become inputs as columns of their own, made at ingest.
        return (
            "date or time: to use its parts (month, weekday...), make them columns in ingest.py "
            "and features in schema.yaml"
        )
    if distinct == len(values):
        return "identifier: a different text on every row"
    if distinct > MAX_CATEGORIES or distinct > len(present) / 2:
        return (
            f"free text ({distinct} distinct values): to use it, make columns of it in ingest.py "
            "and features in schema.yaml"
        )
    return ""


KEY_NAME = re.compile(r"(?:^|[\W_])(?:id|key)$|[a-z](?:Id|ID|Key)$", re.IGNORECASE)
TIME_NAME = re.compile(r"time|date|(?:^|_)(?:at|ts)$", re.IGNORECASE)
# A column named year, yr or *_year whose values are calendar years (data.is_year): a time.
YEAR_NAME = re.compile(r"^(?:year|yr)$|_year$", re.IGNORECASE)


def feature_store_keys(frame: pd.DataFrame, ignored: dict[str, str]) -> dict[str, str]:
    """The feature store's entity key and event time, when the data has them: an identifier (a
    different whole number or text on every row, none missing) named id, key, *_id or *_key,
    and a column of dates or times with none missing (the one named like a time, if several).
    Without them, feature_store.py's rule numbers the rows and times them."""
    keys = {}
    complete = [name for name in ignored if frame[name].notna().all()]
    ids = [
        name
        for name in complete
        if ignored[name].startswith("identifier") and KEY_NAME.search(name)
    ]
    if ids:
        keys["entity"] = ids[0]
        keys["entity_dtype"] = "int" if _is_number(frame[ids[0]]) else "str"
    timestamp = time_column(complete, ignored)
    if timestamp is not None:
        keys["timestamp"] = timestamp
    return keys


def time_column(names: list[str], ignored: dict[str, str]) -> str | None:
    """Of these ignored columns, the one of dates or times (named like a time, if several)."""
    times = [name for name in names if ignored[name].startswith("date or time")]
    return next((name for name in times if TIME_NAME.search(name)), times[0] if times else None)


def write_store_keys(params_file: Path, keys: dict[str, str]) -> None:
    """Set params.yaml's feature_store entries to `keys` in place (its comments kept); the file
    is left as it was if the result does not read back with them."""
    from mlops_ladder.config import load_params

    original = params_file.read_text()
    lines, inside = original.splitlines(keepends=True), False
    for index, line in enumerate(lines):
        if line.strip() and not line.startswith((" ", "#")):
            inside = line.startswith("feature_store:")
        entry = re.match(r"  (\w+):[^#\n]*(#.*)?$", line.rstrip("\n")) if inside else None
        if entry and entry[1] in keys:
            comment = f"  {entry[2]}" if entry[2] else ""
            lines[index] = f"  {entry[1]}: {_flow(keys[entry[1]])}{comment}\n"
    params_file.write_text("".join(lines))
    written = load_params(params_file).feature_store
    if any(getattr(written, key) != value for key, value in keys.items()):
        params_file.write_text(original)
        raise ConfigError(
            f"{params_file} has no feature_store entries to set: add them by hand ({keys})"
        )


def draft_feature(values: pd.Series) -> tuple[dict[str, Any], str]:
    """A feature's spec, and what was observed (for the comment beside it)."""
    present = values.dropna()
    nulls = int(values.isna().sum())
    missing = f", {nulls} missing" if nulls else ""
    if _is_bool(present):
        spec: dict[str, Any] = {"dtype": "bool"}
        observed = f"{int(present.astype(bool).sum())} true of {len(present)}{missing}"
    elif _is_number(present):
        whole = bool((present % 1 == 0).all())
        spec = {"dtype": "int" if whole else "float", **_bounds(present, whole)}
        observed = f"observed {_plain(present.min())} to {_plain(present.max())}{missing}"
    else:
        allowed = sorted(str(value) for value in present.unique())
        spec = {"dtype": "category", "allowed": allowed}
        observed = f"{len(allowed)} values{missing}"
    if nulls:
        spec["nullable"] = True
    return spec, observed


def draft_slices(features: dict[str, dict[str, Any]], frame: pd.DataFrame) -> list[dict[str, str]]:
    """Each value of the category with the fewest values (2 to 10), else each side of the
    first number's median: below it and the rest, or, where the median is the smallest value
    (a column of mostly zeros), at most it and above it; never an empty or all-rows slice."""
    categories = [
        (len(spec.get("allowed") or [False, True]), name)
        for name, spec in features.items()
        if spec["dtype"] in ("category", "bool")
        and 2 <= len(spec.get("allowed") or [False, True]) <= MAX_SLICE_CATEGORIES
    ]
    if categories:
        _, name = min(categories)
        values = features[name].get("allowed") or [False, True]
        return [
            {"name": _slug(f"{name} {value}"), "query": f"`{name}` == {_literal(value)}"}
            for value in values
        ]
    numbers = [name for name, spec in features.items() if spec["dtype"] in ("int", "float")]
    if not numbers:
        return []
    for name in numbers:
        values = frame[name].dropna()
        median = _plain(round(float(values.median()), 6))
        if (values < median).any():  # below the median, and the median or above
            return [
                {"name": _slug(f"{name} below median"), "query": f"`{name}` < {median}"},
                {"name": _slug(f"{name} median or above"), "query": f"`{name}` >= {median}"},
            ]
        if (values > median).any():  # the median is the minimum (a column of mostly zeros)
            return [
                {"name": _slug(f"{name} at most {median}"), "query": f"`{name}` <= {median}"},
                {"name": _slug(f"{name} above {median}"), "query": f"`{name}` > {median}"},
            ]
    return []


def _bounds(present: pd.Series, whole: bool) -> dict[str, float | int]:
    low, high = float(present.min()), float(present.max())
    width = (high - low) or abs(high) or 1.0
    lower, upper = low - width, high + width
    if low >= 0:
        lower = max(lower, 0.0)
    if whole:
        return {"min": math.floor(lower), "max": math.ceil(upper)}
    return {"min": _round(lower, math.floor), "max": _round(upper, math.ceil)}


def _round(value: float, direction: Any) -> float:
    """Round outward to three significant digits."""
    if value == 0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(abs(value))) - 2)
    return float(round(direction(value / scale) * scale, 10))


def _is_bool(present: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(present) or (
        present.dtype == object and all(isinstance(value, bool) for value in present)
    )


def _is_number(present: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, whole floats as ints (for YAML and messages)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def _slug(text: str) -> str:
    """A slice name that MLflow accepts in metric names."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "slice"


def _flow(value: Any) -> str:
    """One YAML value on one line: JSON is valid YAML, and quotes what YAML would misread
    (yes/no, numbers as text, names with colons or spaces)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    plain = isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value)
    if plain and value.lower() not in {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}:
        return value
    return json.dumps(value, ensure_ascii=False)
