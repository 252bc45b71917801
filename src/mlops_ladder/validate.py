"""Check a table against the data contract before anything learns from it.

Every check runs, so the report names every problem at once: columns, types, nulls, ranges,
allowed categories, row count, duplicates and, for the target, its values and class balance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from mlops_ladder.schema import Feature, Schema, Target


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    rows: int
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "rows": self.rows,
            "failed": [check.name for check in self.failures],
            "checks": [asdict(check) for check in self.checks],
        }

    def summary(self) -> str:
        if self.passed:
            return f"data valid: {len(self.checks)} checks passed on {self.rows} rows"
        lines = [f"data invalid: {len(self.failures)} of {len(self.checks)} checks failed"]
        lines += [f"  - {check.name}: {check.detail}" for check in self.failures]
        return "\n".join(lines)


def validate(frame: pd.DataFrame, schema: Schema) -> Report:
    """Run every check of the contract on `frame`; never raises on bad data."""
    report = Report(rows=len(frame))
    target = schema.target.name
    missing = [name for name in [*schema.feature_names, target] if name not in frame.columns]
    unexpected = [name for name in frame.columns if name not in schema.columns]
    report.checks.append(
        Check("columns.missing", not missing, f"missing columns: {', '.join(missing)}")
    )
    report.checks.append(
        Check(
            "columns.unexpected",
            not unexpected,
            f"unexpected: {', '.join(unexpected)} (list them in schema.yaml: features or ignored)",
        )
    )
    for name, spec in schema.features.items():
        if name in frame.columns:
            report.checks.extend(column_checks(name, frame[name], spec))
    labelled = frame
    if target in frame.columns:
        report.checks.extend(target_checks(frame[target], schema.target))
        labelled = frame[frame[target].notna()]
    report.checks.extend(table_checks(labelled, schema))
    if not missing:
        report.checks.extend(leakage_checks(labelled, schema))
    return report


def column_checks(name: str, values: pd.Series, spec: Feature | Target) -> list[Check]:
    checks = []
    nulls = int(values.isna().sum())
    checks.append(Check(f"{name}.nulls", spec.nullable or nulls == 0, f"{nulls} null values"))
    present = values.dropna()
    if spec.values is not None:
        unknown = sorted({str(value) for value in present[~present.isin(spec.values)]})
        # the report is kept and shared: personal values are counted, never shown
        shown = f"{len(unknown)} (tagged pii)" if "pii" in getattr(spec, "tags", []) else None
        checks.append(
            Check(
                f"{name}.allowed",
                not unknown,
                f"values outside {spec.values}: {shown or ', '.join(unknown[:5])}",
            )
        )
        return checks
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    checks.append(Check(f"{name}.dtype", numeric, f"expected {spec.dtype}, found {values.dtype}"))
    if not numeric:
        return checks
    infinite = np.isinf(present.to_numpy(dtype="float64"))
    checks.append(
        Check(f"{name}.finite", not infinite.any(), f"{int(infinite.sum())} infinite values")
    )
    if spec.dtype == "int":
        # an infinite value is reported once, as not finite, not again as a fraction
        fractional = int((present[~infinite] % 1 != 0).sum())
        checks.append(Check(f"{name}.integer", fractional == 0, f"{fractional} non-integer values"))
    if spec.min is not None:
        below = int((present < spec.min).sum())
        checks.append(Check(f"{name}.min", below == 0, f"{below} values below {spec.min}"))
    if spec.max is not None:
        above = int((present > spec.max).sum())
        checks.append(Check(f"{name}.max", above == 0, f"{above} values above {spec.max}"))
    return checks


def target_checks(values: pd.Series, spec: Target) -> list[Check]:
    checks = column_checks(spec.name, values, spec)
    unlabelled = int(values.isna().sum())
    if unlabelled and spec.missing == "drop":
        # Reported, not failed: these rows are dropped by the split (schema.yaml target.missing).
        checks.append(
            Check(f"{spec.name}.unlabelled", True, f"{unlabelled} rows without a target: dropped")
        )
    present = values.dropna()
    if spec.min_class_share is not None and len(present):
        shares = present.value_counts(normalize=True)
        rare = {str(label): round(float(share), 3) for label, share in shares.items()}
        balanced = len(shares) >= 2 and float(shares.min()) >= spec.min_class_share
        checks.append(
            Check(
                f"{spec.name}.balance",
                balanced,
                f"class shares {rare}, each must be at least {spec.min_class_share}",
            )
        )
    return checks


def table_checks(labelled: pd.DataFrame, schema: Schema) -> list[Check]:
    """Row count and duplicates, over the rows that have a target."""
    rules = schema.dataset
    duplicates = float(labelled.duplicated().mean()) if len(labelled) else 0.0
    return [
        Check(
            "rows.count",
            len(labelled) >= rules.min_rows,
            f"{len(labelled)} labelled rows, at least {rules.min_rows} needed",
        ),
        Check(
            "rows.duplicates",
            duplicates <= rules.max_duplicate_share,
            f"{duplicates:.1%} duplicated rows, at most {rules.max_duplicate_share:.1%} allowed",
        ),
    ]


def single_feature_scores(labelled: pd.DataFrame, schema: Schema) -> dict[str, float]:
    """How well each feature alone predicts the target, from 0 (not at all) to 1 (exactly).

    Each row's target is predicted from the other rows of its group (the rows with the same
    value of the feature; numbers cut into 20 quantile bins): leave-one-out, so that a group of
    one row, which tells nothing about another row, scores nothing (a small table's honest
    features would otherwise "predict" each row from itself). A row alone in its group gets the
    table's prediction instead. Classification: how much these predictions lower the error of
    always guessing the majority class. Regression: the share of the target's variance they
    explain, or for a number its squared rank correlation with the target if higher. A copy of
    the target scores 1; a strong honest feature stays clearly below it.
    """
    target = labelled[schema.target.name]
    if target.nunique() < 2:
        return {}
    regression = schema.target.values is None
    scores = {}
    for name in schema.feature_names:
        groups = _groups(labelled[name])
        if regression:
            numbers = target.astype("float64")
            score = _explained_variance(numbers, groups)
            # A monotone copy of the target ranks exactly like it.
            if pd.api.types.is_numeric_dtype(labelled[name]):
                correlation = labelled[name].corr(numbers, method="spearman")
                if np.isfinite(correlation):
                    score = max(score, float(correlation) ** 2)
        else:
            score = _error_reduction(target, groups)
        scores[name] = round(max(float(score), 0.0), 6)
    return scores


def _explained_variance(numbers: pd.Series, groups: pd.Series) -> float:
    """1 - the squared error of each value's leave-one-out group mean over the variance."""
    total = float(((numbers - numbers.mean()) ** 2).sum())
    if not total:
        return 0.0
    by_group = numbers.groupby(groups)
    sums, sizes = by_group.transform("sum"), by_group.transform("size")
    others = (sizes - 1).to_numpy()
    fallback = (numbers.sum() - numbers) / max(len(numbers) - 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        loo = np.where(others > 0, (sums - numbers) / others, fallback)
    return 1 - float(((numbers - loo) ** 2).sum()) / total


def _error_reduction(target: pd.Series, groups: pd.Series) -> float:
    """How much the leave-one-out majority of each row's group lowers the error of always
    guessing the table's majority class (ties and lone rows: the table's majority)."""
    group, _ = pd.factorize(groups)
    label, classes = pd.factorize(target)
    width = len(classes)
    counts = np.bincount(group * width + label, minlength=(group.max() + 1) * width)
    counts = counts.reshape(-1, width)  # rows: groups, columns: classes
    totals = counts.sum(axis=0)
    base_error = 1 - float(totals.max()) / len(label)
    if not base_error:
        return 0.0
    rows = np.arange(len(label))
    mine = counts[group, label] - 1  # the other rows of the group with the row's class
    others = counts[group]
    others[rows, label] = -1
    best_other = others.max(axis=1)  # the most frequent other class in the group
    decided = mine > best_other  # the group's other rows point to the row's class
    undecided = mine == best_other  # a lone row, or a tie: the table's majority decides
    hits = decided | (undecided & (label == totals.argmax()))
    return 1 - (1 - float(hits.mean())) / base_error


def _groups(values: pd.Series) -> pd.Series:
    """The feature's values as group labels: numbers in quantile bins, missing as its own."""
    number = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if number and values.nunique() > 20:
        finite = values.where(np.isfinite(values.astype("float64")))  # the finite check's to flag
        values = pd.qcut(finite, 20, labels=False, duplicates="drop")
    return values.astype("string").fillna("<missing>")


def leakage_checks(labelled: pd.DataFrame, schema: Schema) -> list[Check]:
    bound = schema.dataset.max_single_feature_score
    return [
        Check(
            f"{name}.leakage",
            score <= bound,
            f"{name} alone predicts the target (score {score:.3f} > {bound}): a copy of the "
            "target or a value recorded after it? (schema.yaml dataset.max_single_feature_score)",
        )
        for name, score in single_feature_scores(labelled, schema).items()
    ]
