"""Check a table against the data contract before anything learns from it.

Every check runs, so the report names every problem at once: columns, types, nulls, ranges,
allowed categories, row count, duplicates and, for the target, its values and class balance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from {{ cookiecutter.package_name }}.schema import Feature, Schema, Target


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
    expected = [*schema.feature_names, schema.target.name]
    missing = [name for name in expected if name not in frame.columns]
    unexpected = [name for name in frame.columns if name not in expected]
    report.checks.append(
        Check("columns.missing", not missing, f"missing columns: {', '.join(missing)}")
    )
    report.checks.append(
        Check("columns.unexpected", not unexpected, f"unexpected: {', '.join(unexpected)}")
    )
    for name, spec in schema.features.items():
        if name in frame.columns:
            report.checks.extend(column_checks(name, frame[name], spec))
    if schema.target.name in frame.columns:
        report.checks.extend(target_checks(frame[schema.target.name], schema.target))
    report.checks.extend(table_checks(frame, schema))
    return report


def column_checks(name: str, values: pd.Series, spec: Feature | Target) -> list[Check]:
    checks = []
    nulls = int(values.isna().sum())
    nullable = getattr(spec, "nullable", False)
    checks.append(Check(f"{name}.nulls", nullable or nulls == 0, f"{nulls} null values"))
    present = values.dropna()
    if spec.dtype == "category":
        unknown = sorted({str(value) for value in present[~present.isin(spec.allowed)]})
        checks.append(
            Check(
                f"{name}.allowed",
                not unknown,
                f"values outside {spec.allowed}: {', '.join(unknown[:5])}",
            )
        )
        return checks
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    checks.append(Check(f"{name}.dtype", numeric, f"expected {spec.dtype}, found {values.dtype}"))
    if not numeric:
        return checks
    if spec.dtype == "int":
        fractional = int((present % 1 != 0).sum())
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
    if spec.min_class_share is not None and len(values.dropna()):
        shares = values.value_counts(normalize=True)
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


def table_checks(frame: pd.DataFrame, schema: Schema) -> list[Check]:
    rules = schema.dataset
    duplicates = float(frame.duplicated().mean()) if len(frame) else 0.0
    return [
        Check(
            "rows.count",
            len(frame) >= rules.min_rows,
            f"{len(frame)} rows, at least {rules.min_rows} needed",
        ),
        Check(
            "rows.duplicates",
            duplicates <= rules.max_duplicate_share,
            f"{duplicates:.1%} duplicated rows, at most {rules.max_duplicate_share:.1%} allowed",
        ),
    ]
