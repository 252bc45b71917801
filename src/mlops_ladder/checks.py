r"""What the files show: tools recognised, the maturity checklist, the ML Test Score tests that
files can judge, and the level reached.

Every finding is a line of a file (path:line) matched by a pattern below; nothing is guessed
from names alone except where a file's name is the evidence (a notebook, a Dockerfile, a
dvc.yaml). Whole-line comments never count.

The files are anyone's, so matching them is bounded. Every pattern stays within one line: no
class that matches "\n" (a blank within a line is `[ \t]`, a negated class lists `\n`). No
repetition costs the square of a line: none that a match could start inside again is unbounded
(`\S{0,64}`, a lookahead, or an atomic group that commits to the first start), and no two runs
of blanks stand side by side without a possessive `*+`. A pattern is tried only on the lines
that hold one of its keywords (the literal strings each of its matches contains), each search
bounded to its line. The time spent is capped too, per file and in all: past a cap the report
is partial and says so. tests/test_assess_hostile.py checks each of these on every pattern.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath
from types import ModuleType

from mlops_ladder.scan import Line, Repository, SourceFile, read_pyproject

# The standard library's own regex parser (private: typeshed does not describe it): where it is
# missing, matching is only slower.
regex_parser: ModuleType | None
try:
    regex_parser = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover
    regex_parser = None
_REPEATS = {
    getattr(regex_parser, name, None) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
} - {None}

MAX_EVIDENCE = 6
MAX_MATCHES = 100  # lines of one file kept as evidence of one pattern (reports show 6)
# Time matching patterns: in one file, 10 s and 10 s per MB of its text; in all, 5 minutes. A
# backstop: 2 MB of nothing but the patterns' own words takes some 1.5 s on a loaded machine.
MAX_FILE_SECONDS = 10.0
MAX_FILE_SECONDS_PER_MB = 10.0
MAX_MATCH_SECONDS = 300.0
MIN_KEYWORD = 3  # characters: a shorter literal is in most files and skips none


@dataclass(frozen=True)
class Evidence:
    path: str
    line: int
    tool: str
    text: str

    @property
    def ref(self) -> str:
        return f"{self.path}:{self.line}"


# --------------------------------------------------------------------------------------------
# Which files a pattern looks at
# --------------------------------------------------------------------------------------------
CI_FILE = re.compile(
    r"^(\.github/workflows/[^/]+\.ya?ml|\.github/actions/.+\.ya?ml|(.*/)?\.gitlab-ci\.ya?ml"
    r"|\.gitlab/.+\.ya?ml|(.*/)?Jenkinsfile|(.*/)?azure-pipelines[^/]*\.ya?ml"
    r"|bitbucket-pipelines\.ya?ml|\.circleci/config\.ya?ml|(.*/)?cloudbuild[^/]*\.ya?ml"
    r"|(.*/)?buildspec[^/]*\.ya?ml|\.drone\.ya?ml|\.buildkite/.+\.ya?ml|\.tekton/.+\.ya?ml)$"
)


def is_test(f: SourceFile) -> bool:
    parts = PurePosixPath(f.path).parts
    return (
        any(part in {"tests", "test", "testing"} for part in parts[:-1])
        or f.name.startswith("test_")
        or f.name.endswith("_test.py")
        or f.name == "conftest.py"
    )


def is_ci(f: SourceFile) -> bool:
    return bool(CI_FILE.match(f.path))


def code(f: SourceFile) -> bool:
    return f.suffix in {".py", ".ipynb"} and not is_test(f)


def tests(f: SourceFile) -> bool:
    return f.suffix == ".py" and is_test(f)


def any_code(f: SourceFile) -> bool:
    return f.suffix in {".py", ".ipynb"}


def yaml(f: SourceFile) -> bool:
    return f.suffix in {".yml", ".yaml"} and not is_test(f)


def automation(f: SourceFile) -> bool:
    """CI files, shell scripts, Makefiles, crontabs and orchestration code: where commands run."""
    return (
        is_ci(f)
        or f.suffix == ".sh"
        or f.name in {"Makefile", "crontab"}
        or (f.suffix in {".yml", ".yaml"} and not is_test(f))
    )


def everywhere(f: SourceFile) -> bool:
    return f.suffix != ".md" and not is_test(f)


@cache
def compiled(pattern: str) -> re.Pattern[str]:
    # MULTILINE: ^ and $ anchor at each line of a file's joined text as they do on one line.
    return re.compile(pattern, re.MULTILINE)


@cache
def keywords(pattern: str) -> tuple[str, ...] | None:
    """Strings one of which every match of pattern contains (its keywords): the regex is tried
    only on the lines that hold one, found with str.find, some ten times faster than the regex
    engine trying every position of a file. None when the pattern has none worth it."""
    if regex_parser is None:
        return None
    parsed = regex_parser.parse(pattern, re.MULTILINE)
    if parsed.state.flags & re.IGNORECASE:
        return None
    found = _required(parsed)
    if not found or min(map(len, found)) < MIN_KEYWORD:
        return None
    # "mlflow" is found wherever "mlflow." is: only the shortest need be searched.
    return tuple(sorted(k for k in found if not any(o != k and o in k for o in found)))


def _required(items: Iterable[tuple]) -> frozenset[str] | None:
    """Of a parsed sequence, the best set of strings one of which a match must contain: a run of
    literals, or the set of a part that must match (a group, a branch's alternatives together, a
    repetition of at least once). Classes, anchors, lookarounds and optional parts add none."""
    assert regex_parser is not None  # keywords() stops without it
    options: list[frozenset[str]] = []
    run = ""
    for op, arg in items:
        if op is regex_parser.LITERAL:
            run += chr(arg)
            continue
        options.append(frozenset([run]) if run else frozenset())
        run = ""
        if op is regex_parser.SUBPATTERN:
            options.append(_required(arg[-1]) or frozenset())
        elif op is regex_parser.ATOMIC_GROUP:
            options.append(_required(arg) or frozenset())
        elif op is regex_parser.BRANCH:
            alternatives = [_required(alternative) for alternative in arg[1]]
            if all(alternatives):  # none is None (all() does not narrow the list for mypy)
                options.append(frozenset().union(*alternatives))  # type: ignore[arg-type]
        elif op in _REPEATS and arg[0] >= 1:
            options.append(_required(arg[2]) or frozenset())
    options.append(frozenset([run]) if run else frozenset())
    usable = [option for option in options if option]
    return max(usable, key=lambda option: min(map(len, option)), default=None)


@dataclass(frozen=True)
class Signal:
    tool: str
    files: Callable[[SourceFile], bool]
    pattern: str | None = None  # None: the file's presence is the evidence (line 1)
    path: str | None = None  # a regex the file's path must match
    requires: str | None = None  # a regex some line of the file must match (an import, say)

    def find(self, repo: Repository) -> Iterable[Evidence]:
        regex = compiled(self.pattern) if self.pattern else None
        path = compiled(self.path) if self.path else None
        requires = compiled(self.requires) if self.requires else None
        for f in repo.files:
            if (path and not path.search(f.path)) or not self.files(f):
                continue
            if requires and next(matching_lines(repo, f, requires), None) is None:
                continue
            if regex is None:
                yield Evidence(f.path, 1, self.tool, f.path)
                continue
            for count, line in enumerate(matching_lines(repo, f, regex)):
                if count == MAX_MATCHES:  # a file of a million matching lines costs no more
                    break
                yield Evidence(f.path, line.number, self.tool, line.text.strip()[:120])


def matching_lines(repo: Repository, f: SourceFile, regex: re.Pattern[str]) -> Iterator[Line]:
    """The lines of f that regex matches (whole-line comments aside), each once, in order.

    A pattern with keywords is tried only on the lines that hold one, each search bounded to its
    line: the cost follows the keywords, not the file's size, and no match can leave its line.
    One without is searched over the whole text, once per match (its classes stay within a
    line). Never a Python loop over every line. The time is charged to the file and the run.
    """
    keys = keywords(regex.pattern)
    spans = _keyword_lines(f, keys) if keys else _matching_spans(f.text, regex)
    counted, index = 0, 0
    while _may_match(repo, f):
        started = time.perf_counter()
        span = next(spans, None)
        found = span is not None and (not keys or regex.search(f.text, *span) is not None)
        _charge(repo, f, time.perf_counter() - started)
        if span is None:
            return
        start, end = span
        index += f.text.count("\n", counted, start)
        counted = start
        line = f.text[start:end]
        if found and not f.is_comment(line):
            yield Line(f.number(index), line)


def _line_around(text: str, at: int) -> tuple[int, int]:
    end = text.find("\n", at)
    return text.rfind("\n", 0, at) + 1, len(text) if end < 0 else end


def _keyword_lines(f: SourceFile, keys: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    """(start, end) of each line that holds one of keys, in order: each key's next place is
    kept, and looked for again only once passed, so the text is scanned once per key."""
    text = f.text
    places = {key: f.find(key) for key in keys}
    while True:
        first = min((at for at in places.values() if at >= 0), default=-1)
        if first < 0:
            return
        start, end = _line_around(text, first)
        yield start, end
        for key, at in places.items():
            if 0 <= at <= end:
                places[key] = text.find(key, end + 1)


def _matching_spans(text: str, regex: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each line the regex matches, one search of the rest of the text each."""
    pos = 0
    while pos <= len(text):
        match = regex.search(text, pos)
        if match is None:
            return
        start, end = _line_around(text, match.start())
        yield max(start, pos), end
        pos = end + 1


def _may_match(repo: Repository, f: SourceFile) -> bool:
    if repo.match_seconds > MAX_MATCH_SECONDS:
        repo.limit(
            f"stopped matching patterns after {MAX_MATCH_SECONDS:.0f} s in all (the limit for "
            "one repository): the checks after that saw no file"
        )
        return False
    return not f.stopped


def file_seconds(f: SourceFile) -> float:
    return MAX_FILE_SECONDS + MAX_FILE_SECONDS_PER_MB * len(f.text) / 1e6


def _charge(repo: Repository, f: SourceFile, seconds: float) -> None:
    f.seconds += seconds
    repo.match_seconds += seconds
    if not f.stopped and f.seconds > file_seconds(f):
        f.stopped = True
        repo.limit(
            f"stopped matching patterns in {f.path} after {file_seconds(f):.0f} s (the limit "
            "for a file of its size): the checks after that did not look at it"
        )


def S(
    tool: str, pattern: str | None, files=code, path: str | None = None, requires: str | None = None
) -> Signal:
    return Signal(tool, files, pattern, path, requires)


IMPORT = r"^[ \t]*(import|from)[ \t]+"


def imports(module: str) -> str:
    """A line importing `module` (a regex: alternatives allowed)."""
    return IMPORT + "(?:" + module + r")\b"


# --------------------------------------------------------------------------------------------
# Signals, by what they show
# --------------------------------------------------------------------------------------------
NOTEBOOKS = [S("notebook", None, lambda f: f.suffix == ".ipynb")]
SCRIPTS = [
    S(
        "script",
        r"^if __name__ == ['\"]__main__['\"]",
        lambda f: f.suffix == ".py" and not is_test(f),
    ),
    S("R script", None, lambda f: f.suffix == ".r"),
]
TRAINING_CODE = [
    S("training code", r"\.fit\(|\bdef train\w*\("),
]
PIPELINES = [
    S("DVC pipeline", r"^stages:[ \t]*$", yaml, r"(^|/)dvc\.ya?ml$"),
    S("Airflow", imports(r"airflow")),
    S("Kubeflow Pipelines", imports(r"kfp") + r"|@dsl\.pipeline"),
    S("Prefect", imports(r"prefect") + r"|^[ \t]*@flow\b"),
    S("Dagster", imports(r"dagster")),
    S("ZenML", imports(r"zenml")),
    S("Kedro", imports(r"kedro\.pipeline")),
    S("Metaflow", imports(r"metaflow")),
    S("Flyte", imports(r"flytekit")),
    S("Luigi", imports(r"luigi")),
    S("SageMaker Pipelines", imports(r"sagemaker\.workflow")),
    S("Vertex AI Pipelines", r"aiplatform\.PipelineJob\("),
    S("Azure ML pipelines", imports(r"azure\.ai\.ml") + r".*\bdsl\b"),
    S("Snakemake", r"^rule \w+:", lambda f: f.name == "Snakefile"),
]
TRACKING = [
    S("MLflow", imports(r"mlflow") + r"|\bmlflow\.(log_\w+|start_run|autolog|set_experiment)\("),
    S("Weights & Biases", imports(r"wandb") + r"|\bwandb\.init\("),
    S("Neptune", imports(r"neptune") + r"|\bneptune\.init_run\("),
    S("Comet", imports(r"comet_ml")),
    S("ClearML", imports(r"clearml")),
    S("Aim", imports(r"aim") + r".*\bRun\b"),
    S("DVCLive", imports(r"dvclive")),
]
REGISTRY = [
    S("W&B registry", r"\.link_model\(|\.link_artifact\(|wandb-registry"),
    S("Neptune model registry", r"\binit_model_version\(|\bneptune\.init_model\("),
    S(
        "SageMaker model registry",
        r"ModelPackageGroupName|model_package_group_name|RegisterModel\(",
    ),
    S("Vertex AI model registry", r"aiplatform\.Model\.upload\("),
    S("Azure ML model registry", r"\.models\.create_or_update\("),
    S("ClearML model registry", r"\bOutputModel\("),
    S(
        "GTO / DVC model registry",
        r"^[ \t]*type:[ \t]*model[ \t]*$",
        yaml,
        r"(^|/)(dvc|artifacts)\.ya?ml$",
    ),
    # Last: its registered_model_name= is also W&B's keyword.
    S(
        "MLflow model registry",
        r"\bregister_model\(|registered_model_name[ \t]*=|set_registered_model_alias\("
        r"|transition_model_version_stage\(|create_registered_model\(|['\"]models:/",
    ),
]
SERVING = [
    S(
        "Dockerfile",
        None,
        lambda f: (
            f.name == "Dockerfile"
            or f.name.lower().endswith(".dockerfile")
            or f.name.startswith("Dockerfile.")
        ),
    ),
    S(
        "Kubernetes manifest",
        r"^kind:[ \t]*(Deployment|StatefulSet|Service|Ingress|CronJob|Job|"
        r"HorizontalPodAutoscaler)[ \t]*$",
        yaml,
    ),
    S("FastAPI", imports(r"fastapi")),
    S("Flask", imports(r"flask")),
    S("BentoML", imports(r"bentoml")),
    S("BentoML", None, lambda f: f.name == "bentofile.yaml"),
    S("Seldon", r"^kind:[ \t]*SeldonDeployment|" + imports(r"seldon_core"), everywhere),
    S("KServe", r"^kind:[ \t]*InferenceService", yaml),
    S("MLflow serving", r"mlflow models serve|mlflow\.pyfunc\.serve", everywhere),
    S("Ray Serve", imports(r"ray\.serve") + r"|@serve\.deployment"),
    S("TorchServe", r"torch-model-archiver|torchserve\b", everywhere),
]
CI = [S("CI pipeline", None, is_ci)]
CI_RUNS = [
    S(
        "CI runs tests or the pipeline",
        r"\b(pytest|tox|nox|make[ \t]+(test|check|all|pipeline|train)|dvc[ \t]+repro|"
        r"python[ \t]+-m[ \t]+pytest|kedro[ \t]+run)\b",
        is_ci,
    ),
]
DEPLOY = [
    S(
        "deployment step",
        r"\b(kubectl[ \t]+(apply|set[ \t]+image|rollout)|helm[ \t]+(upgrade|install)"
        r"|(docker|podman)[ \t]+push|gcloud[ \t]+(run|app|functions|ai[ \t]+endpoints)[ \t]+deploy"
        r"|aws[ \t]+(ecs[ \t]+update-service|lambda[ \t]+update-function-code"
        r"|sagemaker[ \t]+(create|update)-endpoint)|fly[ \t]+deploy|serverless[ \t]+deploy"
        r"|bentoml[ \t]+deploy|skaffold[ \t]+run|kustomize[ \t]+build"
        r"|mlflow[ \t]+deployments[ \t]+create)"
        # the first `az webapp|containerapp|ml` of the line, then deploy|create|update after it
        r"|^(?>.*?\baz[ \t]+(webapp|containerapp|ml)\b).*(deploy|create|update)",
        automation,
    ),
    S("deployment step", r"^[ \t]*push:[ \t]*true[ \t]*$", is_ci),
    # Cloud Build: entrypoint gcloud, args [run, deploy, ...]
    S(
        "deployment step",
        r"\[[ \t]*['\"]?(run|app|functions)['\"]?[ \t]*,[ \t]*['\"]?deploy\b",
        is_ci,
    ),
    S("deployment environment", r"^[ \t]+environment:[ \t]*\S", is_ci),
    S(
        "GitOps (Argo CD / Flux)",
        r"^apiVersion:[ \t]*(argoproj\.io|kustomize\.toolkit\.fluxcd\.io)",
        yaml,
    ),
]
SCHEDULES = [
    # [ \t]*+: two runs of blanks side by side would split a line of blanks every way (n²).
    S("schedule", r"^[ \t]*+(schedule:[ \t]*$|-?[ \t]*cron:[ \t]*\S)", is_ci),
    S("schedule", r"\bcron\([ \t]*['\"]", is_ci),  # Jenkins: triggers { cron('H 3 * * 1') }
    S(
        "schedule",
        r"CI_PIPELINE_SOURCE[ \t]*==[ \t]*['\"]schedule|^[ \t]*-[ \t]*schedules[ \t]*$",
        is_ci,
    ),
    S(
        "data trigger",
        r"^[ \t]*paths:.*\.dvc|^[ \t]*-[ \t]*+['\"]?[^'\"\n]*\.dvc['\"]?[ \t]*$",
        is_ci,
    ),
    S("Kubernetes CronJob", r"^kind:[ \t]*CronJob[ \t]*$", yaml),
    # Only in files of that orchestrator: `schedule = ...` is also a learning-rate schedule.
    S(
        "Airflow schedule",
        r"\bschedule(_interval)?[ \t]*=[ \t]*(?!None)\S",
        code,
        requires=imports("airflow"),
    ),
    S(
        "Prefect schedule",
        r"\b(cron|interval|rrule)[ \t]*=|CronSchedule\(|IntervalSchedule\(",
        code,
        requires=imports("prefect"),
    ),
    S("Prefect schedule", r"^[ \t]*+-?[ \t]*cron:[ \t]*\S", yaml, r"(^|/)prefect\.ya?ml$"),
    S(
        "Dagster schedule",
        r"ScheduleDefinition\(|@schedule\b|@sensor\b|build_schedule_from",
        requires=imports("dagster"),
    ),
    S("Kubeflow recurring run", r"create_recurring_run\("),
    S("ZenML schedule", r"\bSchedule\([ \t]*cron_expression"),
    S(
        "cloud scheduler",
        r"ScheduleExpression|PipelineJobSchedule|create_schedule\(|gcloud[ \t]+scheduler",
        everywhere,
    ),
    S(
        "crontab",
        r"^[ \t]*[\d*/,-]+[ \t]+[\d*/,-]+[ \t]+[\d*/,-]+[ \t]+[\d*/,-]+[ \t]+[\d*/,-]+[ \t]+\S",
        lambda f: f.name in {"crontab", "cron"} or f.suffix == ".cron",
    ),
]
RETRAIN_COMMANDS = [
    S(
        "retraining",
        r"(dvc[ \t]+repro(?:[ \t]+-[\w-]++)*+[ \t]*$|^(?>.*?dvc[ \t]+repro\b).*\btrain"
        r"|dvc[ \t]+exp[ \t]+run|python\S{0,64}[ \t]+\S{0,200}?train\w{0,100}\.py"
        r"|python\S{0,64}[ \t]+-m[ \t]+\S{1,200}[ \t]+train\b"
        r"|\bmake[ \t]+(train|retrain|pipeline)\b|kedro[ \t]+run|mlflow[ \t]+run"
        r"|zenml[ \t]+pipeline[ \t]+run|\b\w+[ \t]+train[ \t]*$"
        r"|[\[,][ \t]*['\"]?train['\"]?[ \t]*\])",
        automation,
    ),
    S("retraining", r"\.fit\(|\btrain\w*\(", code),
]
DATA_TESTS = [
    S(
        "pytest data test",
        r"^[ \t]*def test_(?=\w*(data|schema|column|null|nan|missing|range|leak|duplicat|"
        r"valid|contract|dtype|label|split))\w*+\(",
        tests,
    ),
    S("Great Expectations", imports(r"great_expectations") + r"|\bexpect_column_\w+\(", any_code),
    S("Great Expectations", None, lambda f: f.name in {"great_expectations.yml", "gx.yml"}),
    S("pandera", imports(r"pandera") + r"|\bDataFrameSchema\(", any_code),
    S("Deepchecks", imports(r"deepchecks"), any_code),
    S("TFDV", imports(r"tensorflow_data_validation"), any_code),
]
MODEL_TESTS = [
    S(
        "pytest model test",
        r"^[ \t]*def test_(?=\w*(model|predict|accuracy|metric|score|baseline|auc|rmse|"
        r"quality|slice|invarian|reproduc|overfit|train))\w*+\(",
        tests,
    ),
    S("Deepchecks model checks", r"model_evaluation\(|\bfull_suite\(", any_code),
]
MONITORING = [
    S("Prometheus metrics", imports(r"prometheus_client") + r"|prometheus_fastapi_instrumentator"),
    S("Evidently", imports(r"evidently")),
    S("whylogs / WhyLabs", imports(r"whylogs|whylabs")),
    S("NannyML", imports(r"nannyml")),
    S("alibi-detect", imports(r"alibi_detect")),
    S("Datadog", imports(r"ddtrace|datadog")),
    S("OpenTelemetry", imports(r"opentelemetry")),
    S("CloudWatch metrics", r"put_metric_data\("),
    S("Grafana dashboard", r'"panels"[ \t]*:', lambda f: f.suffix == ".json"),
    S(
        "prediction logging",
        r"\bdef (?=\w*(log_prediction|prediction_log))\w*+\(|\bPredictionLog\w*\(",
    ),
]
DRIFT = [
    S(
        "Evidently",
        r"\b(DataDriftPreset|DataDriftTable|DataDriftTestPreset|ColumnDriftMetric|"
        r"DriftedColumnsCount|ValueDrift)\b|" + imports(r"evidently"),
    ),
    S("whylogs / WhyLabs", imports(r"whylogs|whylabs")),
    S("alibi-detect", imports(r"alibi_detect")),
    S("NannyML", imports(r"nannyml")),
    S("Deepchecks drift", r"\b(FeatureDrift|PredictionDrift|TrainTestFeatureDrift|LabelDrift)\b"),
    S(
        "hand-written drift check",
        r"\bks_2samp\(|\bwasserstein_distance\(|\bjensenshannon\(|"
        r"\bdef (?=\w*(drift|psi|wasserstein|population_stability))\w*+\(",
    ),
]
ALERTS = [
    S(
        "Slack alert",
        r"hooks\.slack\.com|SLACK_WEBHOOK|slack_sdk|slackapi/slack-github-action",
        everywhere,
    ),
    S("Teams alert", r"webhook\.office\.com|MSTEAMS_WEBHOOK|TEAMS_WEBHOOK", everywhere),
    S("PagerDuty / Opsgenie", r"pagerduty|opsgenie", everywhere),
    S("e-mail alert", imports(r"smtplib") + r"|\bsend_mail\(|sendgrid"),
    S(
        "issue opened on drift",
        r"\bgh[ \t]+issue[ \t]+(create|edit|comment|reopen)\b|issues\.create\(|"
        r"^[ \t]*issues:[ \t]*write",
        is_ci,
    ),
    S("Prometheus alert rule", r"^[ \t]*-[ \t]*alert:[ \t]*\S", yaml),
    S("Alertmanager", r"^[ \t]*receivers:[ \t]*$|alertmanager", yaml),
    S("CloudWatch alarm", r"put_metric_alarm\(|AWS::CloudWatch::Alarm", everywhere),
    S("WhyLabs monitor", r"\bMonitorSetup\(|whylabs_toolkit\.monitor"),
]
AB_TESTING = [
    S(
        "traffic split (code)",
        r"\b(challenger_share|traffic_split|split_traffic|ab_test\w*|"
        r"canary_(share|weight|fraction))\b",
    ),
    S("traffic split (Istio)", r"^kind:[ \t]*VirtualService", yaml),
    S("traffic split (KServe canary)", r"canaryTrafficPercent", yaml),
    S("traffic split (Argo Rollouts)", r"^[ \t]*-[ \t]*setWeight:", yaml),
    S("traffic split (Seldon)", r"^[ \t]*traffic:[ \t]*\d+", yaml),
    S("traffic split (SageMaker variants)", r"InitialVariantWeight|ProductionVariants"),
]
FEATURE_STORE = [
    S("Feast", imports(r"feast") + r"|\bFeatureView\(|\bFeatureStore\("),
    S("Feast", None, lambda f: f.name == "feature_store.yaml"),
    S("Tecton", imports(r"tecton")),
    S("Hopsworks", imports(r"hopsworks|hsfs")),
    S("Databricks feature store", r"FeatureStoreClient\(|FeatureEngineeringClient\("),
    S("SageMaker Feature Store", r"\bFeatureGroup\(|sagemaker\.feature_store"),
    S("Vertex AI Feature Store", r"aiplatform\.Featurestore|FeatureOnlineStore"),
]
SCHEMA = [
    S(
        "data schema",
        None,
        lambda f: re.fullmatch(r"[\w-]*schema[\w-]*\.(ya?ml|json)", f.name) is not None,
    ),
    *DATA_TESTS[1:],
]
FEATURE_TESTS = [
    S(
        "feature code test",
        r"^[ \t]*(from[ \t]+(?=\S*feature)\S*+[ \t]+import|import[ \t]+\S*features?\b)|"
        r"^[ \t]*def test_\w*feature",
        tests,
    ),
]
TUNING = [
    S(
        "hyperparameter search",
        imports(r"optuna|hyperopt|keras_tuner|ray\.tune|skopt")
        + r"|\b(GridSearchCV|RandomizedSearchCV|HalvingGridSearchCV|BayesSearchCV)\(",
        any_code,
    ),
]
BASELINE = [
    S("baseline model", r"\bDummy(Classifier|Regressor)\b|\bbaselines?\b", any_code),
]
SLICES = [
    S(
        "slice metrics",
        r"\b(slices|slice_metrics|per_slice|by_slice|sliced)\b|def test_\w*slice",
        any_code,
    ),
]
FAIRNESS = [
    S(
        "fairness check",
        imports(r"fairlearn|aif360")
        + r"|\b(MetricFrame|demographic_parity\w*|equalized_odds\w*)\b",
        any_code,
    ),
]
SEEDS = [
    S(
        "fixed seed",
        r"\brandom_state[ \t]*[=:][ \t]*\d|\b(np\.)?random\.seed\(|manual_seed\(|"
        r"seed_everything\(|^[ \t]*(random_)?seed:[ \t]*\d",
        lambda f: not is_test(f) and f.suffix != ".md",
    ),
]
LOCKS = [
    S(
        "lock file",
        None,
        lambda f: (
            f.name
            in {
                "uv.lock",
                "poetry.lock",
                "Pipfile.lock",
                "pdm.lock",
                "conda-lock.yml",
                "dvc.lock",
                "requirements.lock",
            }
            or f.name.endswith(".lock.txt")
        ),
    ),
    S(
        "pinned requirements",
        r"^[A-Za-z0-9_.\-\[\]]+==\d",
        lambda f: re.fullmatch(r"requirements[\w.-]*\.txt", f.name) is not None,
    ),
]
PIPELINE_TESTS = [
    S(
        "pipeline test",
        r"^[ \t]*def test_(?=\w*(pipeline|end_to_end|e2e|integration|repro))\w*+\(",
        tests,
    ),
    S("pipeline run in CI", r"\b(dvc[ \t]+repro|make[ \t]+(pipeline|all)|kedro[ \t]+run)\b", is_ci),
]
QUALITY_GATE = [
    S(
        "quality gate",
        r"\b(quality_gate|passes_gate|gate\w*|min_(metric|score|auc|accuracy|f1|r2)|"
        r"promote\w*|champion)\b",
        code,
    ),
]
CANARY = [
    *AB_TESTING,
    S("smoke test before release", r"\bsmoke[_ -]?test", lambda f: is_ci(f) or code(f)),
]
ROLLBACK = [
    S(
        "rollback",
        r"\broll(_|[ \t])?back\w*\b|rollout[ \t]+undo",
        lambda f: everywhere(f) and f.suffix != ".json",
    ),
]
DEPENDENCY_BOTS = [
    S(
        "Dependabot",
        None,
        lambda f: f.path in {".github/dependabot.yml", ".github/dependabot.yaml"},
    ),
    S(
        "Renovate",
        None,
        lambda f: f.name in {"renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json"},
    ),
]
SERVING_VALIDATION = [
    S(
        "serving input validation",
        imports(r"pydantic") + r"|\bBaseModel\b|\bvalidate\w*\(|\bschema\b",
        lambda f: code(f) and bool(re.search(r"serv|api|app", f.path)),
    ),
]
LATENCY = [
    S("latency metric", r"\blatency\b|\bHistogram\(|request_duration", code),
]
LIVE_PERFORMANCE = [
    S(
        "live performance monitoring",
        r"\b(ClassificationPreset|RegressionPreset)\b|"
        + imports(r"nannyml")
        + r"|\b(live|online)_(performance|metrics?)\b|"
        r"\bperformance\w*\[?['\"]?alert",
        code,
    ),
]


def find(repo: Repository, signals: Iterable[Signal]) -> list[Evidence]:
    found: list[Evidence] = []
    seen = set()
    for signal in signals:
        for evidence in signal.find(repo):
            if evidence.ref not in seen:
                seen.add(evidence.ref)
                found.append(evidence)
    return found


def first_per_file(evidence: list[Evidence]) -> list[Evidence]:
    """One line per file and tool: the report shows where, not every occurrence."""
    kept, seen = [], set()
    for item in evidence:
        key = (item.path, item.tool)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


# --------------------------------------------------------------------------------------------
# What the mlops-ladder runtime provides
# --------------------------------------------------------------------------------------------
# A generated project keeps only its owner's code; the runtime it depends on brings the
# machinery, one extra per capability (the runtime's pyproject.toml). A repository gets a
# capability from the runtime when its pyproject.toml has the [tool.mlops-ladder] table (which
# wires its code into the runtime) and [project] dependencies name mlops-ladder with that extra;
# tracking and the registry also need the table's `level` at 1 or more (below, the runtime
# tracks nothing). The structure is read with tomllib (scan.read_pyproject, bounded); the
# evidence is the lines, found by keyworded patterns as everywhere else.
RUNTIME_TABLE = "mlops-ladder"
RUNTIME_DISTRIBUTION = "mlops-ladder"  # PEP 503's normal form
# A requirement's name and extras: one start (\A), nothing unbounded (a value may be 256 KB).
REQUIREMENT = re.compile(r"\A[ \t]*([A-Za-z0-9][A-Za-z0-9._-]{0,100})[ \t]*(?:\[([^\]]{0,500})\])?")
RUNTIME_LINES = {
    "dependency": r"[Ll]adder|LADDER",  # the line that holds the requirement as written
    "table": r"^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*[\"']?mlops-ladder[\"']?[ \t]*\]",
    "level": r"^[ \t]*level[ \t]*=",
}
# Capability: (the extra it needs, whether it needs level 1 or more, what it is).
RUNTIME_PROVIDES = {
    "tracking": ("pipeline", True, "MLflow tracking (mlops-ladder runtime)"),
    "registry": ("pipeline", True, "MLflow model registry (mlops-ladder runtime)"),
    "serving": ("serving", False, "FastAPI serving app (mlops-ladder runtime)"),
    "metrics": ("serving", False, "Prometheus metrics and prediction log (mlops-ladder serving)"),
    "drift": ("monitoring", False, "drift tests (mlops-ladder monitoring job)"),
}
# The runtime's serving splits traffic between champion and challenger when the deployment sets
# <PACKAGE>_CHALLENGER_SHARE: the split is infrastructure where a deployment file sets it.
CHALLENGER_SHARE = [
    S("champion/challenger split (mlops-ladder serving)", r"_CHALLENGER_SHARE\b", yaml),
]


@dataclass(frozen=True)
class RuntimeUse:
    level: int
    extras: dict[str, Evidence]  # each extra installed -> the line that names it
    level_line: Evidence  # the table's `level`


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_requirements(requirements: object) -> list[tuple[str, frozenset[str]]]:
    """The requirements on mlops-ladder in a list of requirements (as written), with their
    extras."""
    found = []
    for requirement in requirements if isinstance(requirements, list) else ():
        match = REQUIREMENT.match(requirement) if isinstance(requirement, str) else None
        if match and _normal(match[1]) == RUNTIME_DISTRIBUTION:
            extras = {_normal(extra.strip()) for extra in (match[2] or "").split(",")}
            found.append((requirement, frozenset(extras - {""})))
    return found


def _default_group_requirements(tables: dict) -> list[str]:
    """The requirements of the dependency groups `uv sync` installs: [tool.uv] default-groups
    ("all": every group), else uv's default, dev, with the groups they include through
    `{include-group = ...}` (PEP 735). A generated project keeps the pipeline's extras in such
    a group (its serving image installs the dependencies alone)."""
    groups = tables.get("dependency-groups")
    groups = (
        {_normal(name): entries for name, entries in groups.items()}
        if isinstance(groups, dict)
        else {}
    )
    tool = tables.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    names = uv.get("default-groups", ["dev"]) if isinstance(uv, dict) else ["dev"]
    if names == "all":
        names = list(groups)
    # Each group read once, in a loop: a cycle of inclusions ends, a long chain is no recursion.
    found: list[str] = []
    seen: set[str] = set()
    todo = [name for name in names if isinstance(name, str)] if isinstance(names, list) else []
    todo.reverse()  # the first default group read first
    while todo:
        current = _normal(todo.pop())
        if current in seen:
            continue
        seen.add(current)
        entries = groups.get(current)
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, str):
                found.append(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
                todo.append(entry["include-group"])
    return found


def _runtime_line(
    repo: Repository, f: SourceFile, kind: str, after: int = 0, holding: str = ""
) -> Evidence | None:
    """The first line of f (after line `after`) that RUNTIME_LINES[kind] matches and that holds
    `holding`, as evidence."""
    for line in matching_lines(repo, f, compiled(RUNTIME_LINES[kind])):
        if line.number > after and holding in line.text:
            return Evidence(f.path, line.number, RUNTIME_TABLE, line.text.strip()[:120])
    return None


def runtime_use(repo: Repository) -> RuntimeUse | None:
    """How the repository uses the mlops-ladder runtime: None unless its pyproject.toml has the
    [tool.mlops-ladder] table, a valid level, and depends on mlops-ladder."""
    tables = read_pyproject(repo)
    tool = tables.get("tool")
    table = tool.get(RUNTIME_TABLE) if isinstance(tool, dict) else None
    level = table.get("level", 0) if isinstance(table, dict) else None
    project = tables.get("project")
    requirements = _runtime_requirements(
        project.get("dependencies") if isinstance(project, dict) else None
    )
    f = repo.file("pyproject.toml")
    if isinstance(level, bool) or level not in (0, 1, 2) or not requirements or f is None:
        return None
    top = Evidence(f.path, 1, RUNTIME_TABLE, "pyproject.toml")
    header = _runtime_line(repo, f, "table") or top
    extras: dict[str, Evidence] = {}
    grouped = _runtime_requirements(_default_group_requirements(tables))
    for written, named in requirements + grouped:  # the dependencies' lines cited first
        line = _runtime_line(repo, f, "dependency", holding=written) or top
        for extra in sorted(named):
            extras.setdefault(extra, line)
    return RuntimeUse(
        level=level,
        extras=extras,
        level_line=_runtime_line(repo, f, "level", after=header.line) or header,
    )


def one_per_line(evidence: list[Evidence]) -> list[Evidence]:
    """The first of the evidence on each line: the runtime's dependency line gives several
    capabilities of one item (metrics and drift tests: basic monitoring)."""
    first: dict[str, Evidence] = {}
    for item in evidence:
        first.setdefault(item.ref, item)
    return list(first.values())


def runtime_capabilities(repo: Repository) -> dict[str, list[Evidence]]:
    """Capability (RUNTIME_PROVIDES's keys, and "ab") -> the pyproject.toml lines that give it;
    empty for a repository that does not use the runtime."""
    use = runtime_use(repo)
    if use is None:
        return {}
    given: dict[str, list[Evidence]] = {}
    for capability, (extra, tracked, tool) in RUNTIME_PROVIDES.items():
        if extra in use.extras and (use.level >= 1 or not tracked):
            lines = [use.extras[extra], use.level_line] if tracked else [use.extras[extra]]
            given[capability] = [
                Evidence(e.path, e.line, tool, e.text) for e in dict.fromkeys(lines)
            ]
    if "serving" in use.extras:
        given["ab"] = first_per_file(find(repo, CHALLENGER_SHARE))
    return given


# --------------------------------------------------------------------------------------------
# The checklist
# --------------------------------------------------------------------------------------------
@dataclass
class Item:
    level: int
    item: str  # the checklist's wording
    met: bool | None
    evidence: list[Evidence] = field(default_factory=list)
    note: str = ""
    core: bool = True  # core items decide the level; the others are reported only
    key: str = ""

    def as_json(self) -> dict:
        return {
            "level": self.level,
            "item": self.item,
            "met": self.met,
            "evidence": [e.ref for e in self.evidence[:MAX_EVIDENCE]],
            "core": self.core,
            "note": self.note,
        }


@dataclass
class TestScoreItem:
    section: str
    test: str
    met: bool
    evidence: list[Evidence]
    note: str = ""

    def as_json(self) -> dict:
        return {
            "section": self.section,
            "test": self.test,
            "met": self.met,
            "evidence": [e.ref for e in self.evidence[:MAX_EVIDENCE]],
            "note": self.note,
        }


@dataclass
class Findings:
    items: list[Item]
    ml_test_score: list[TestScoreItem]
    tools: dict[str, list[Evidence]]
    serving: list[Evidence]
    training: list[Evidence]
    level: int

    def item(self, key: str) -> Item:
        return next(i for i in self.items if i.key == key)


def per_file_pairs(a: list[Evidence], b: list[Evidence]) -> list[Evidence]:
    """Evidence of a and b from the files that have both (a schedule and a retraining command
    in the same workflow, say)."""
    both = {e.path for e in a} & {e.path for e in b}
    return [e for e in a + b if e.path in both]


def _names(evidence: list[Evidence]) -> str:
    return ", ".join(dict.fromkeys(e.tool for e in evidence))


def assess(repo: Repository) -> Findings:
    notebooks = find(repo, NOTEBOOKS)
    scripts = find(repo, SCRIPTS)
    training = find(repo, TRAINING_CODE)
    pipelines = first_per_file(find(repo, PIPELINES))
    runtime = runtime_capabilities(repo)
    tracking = first_per_file(find(repo, TRACKING)) + runtime.get("tracking", [])
    registry = first_per_file(find(repo, REGISTRY)) + runtime.get("registry", [])
    serving = first_per_file(find(repo, SERVING)) + runtime.get("serving", [])
    ci_files = find(repo, CI)
    ci_runs = first_per_file(find(repo, CI_RUNS))
    deploy = first_per_file(find(repo, DEPLOY))
    schedules = find(repo, SCHEDULES)
    retrain = find(repo, RETRAIN_COMMANDS)
    continuous = first_per_file(per_file_pairs(schedules, retrain))
    data_tests = first_per_file(find(repo, DATA_TESTS))
    model_tests = first_per_file(find(repo, MODEL_TESTS))
    monitoring = first_per_file(find(repo, MONITORING)) + runtime.get("metrics", [])
    drift = first_per_file(find(repo, DRIFT)) + runtime.get("drift", [])
    alerts = first_per_file(find(repo, ALERTS))
    ab = first_per_file(find(repo, AB_TESTING)) + runtime.get("ab", [])
    feature_store = first_per_file(find(repo, FEATURE_STORE))

    basic_monitoring = first_per_file(monitoring + drift)
    cicd_met = bool(ci_runs and deploy)
    items = [
        Item(
            0,
            "notebooks",
            bool(notebooks or scripts),
            notebooks + scripts,
            f"{len(notebooks)} notebook(s), {len(scripts)} script(s)",
            core=False,
            key="notebooks",
        ),
        Item(
            0,
            "manual deployment",
            False if deploy else None,
            deploy or serving,
            "deployment is automated: " + _names(deploy)
            if deploy
            else "not visible in files: no deployment step in any pipeline"
            + (f"; what would be deployed: {_names(serving)}" if serving else ""),
            core=False,
            key="manual_deployment",
        ),
        Item(
            0,
            "no monitoring",
            not basic_monitoring,
            one_per_line(basic_monitoring),
            "monitoring found: " + _names(basic_monitoring)
            if basic_monitoring
            else "no monitoring code found",
            core=False,
            key="no_monitoring",
        ),
        Item(
            0,
            "no retraining triggers",
            not continuous,
            continuous,
            "retraining is triggered: " + _names(continuous)
            if continuous
            else "no schedule or data trigger that retrains",
            core=False,
            key="no_triggers",
        ),
        Item(
            1,
            "automated training pipeline",
            bool(pipelines),
            pipelines,
            _names(pipelines)
            if pipelines
            else "no pipeline definition (DVC, Airflow, Kubeflow, "
            "Prefect, Dagster, ZenML, Kedro, ...); scripts and notebooks run by hand do not count",
            key="pipeline",
        ),
        Item(
            1,
            "experiment tracking",
            bool(tracking),
            tracking,
            _names(tracking) if tracking else "no tracking calls (MLflow, W&B, Neptune, ...)",
            key="tracking",
        ),
        Item(
            1,
            "model registry",
            bool(registry),
            registry,
            _names(registry) if registry else "no model registered (MLflow registry, W&B, ...)",
            key="registry",
        ),
        Item(
            1,
            "basic monitoring",
            bool(basic_monitoring),
            one_per_line(basic_monitoring),
            _names(basic_monitoring)
            if basic_monitoring
            else "no metrics, drift or prediction logs",
            core=False,
            key="monitoring",
        ),
        Item(
            2,
            "CI/CD for ML",
            cicd_met,
            ci_runs + deploy,
            "CI runs tests or the pipeline, and deploys: " + _names(deploy)
            if cicd_met
            else (
                "CI found, but no deployment step (CD)"
                if ci_runs
                else "CI deploys, but runs no tests or pipeline"
                if deploy
                else "CI found, but it runs no tests or pipeline"
                if ci_files
                else "no CI/CD configuration (GitHub Actions, GitLab CI, Jenkins, cloud build, ...)"
            ),
            key="cicd",
        ),
    ]
    tests_met = bool(data_tests and model_tests and ci_runs)
    missing_tests = [
        what
        for what, found in (
            ("data tests", data_tests),
            ("model tests", model_tests),
            ("a CI that runs them", ci_runs),
        )
        if not found
    ]
    items += [
        Item(
            2,
            "automated data and model tests",
            tests_met,
            data_tests + model_tests + ci_runs,
            _names(data_tests + model_tests) + ", run in CI"
            if tests_met
            else "missing: " + ", ".join(missing_tests),
            key="tests",
        ),
        Item(
            2,
            "continuous training",
            bool(continuous),
            continuous,
            "scheduled or triggered retraining: " + _names(continuous)
            if continuous
            else (
                "a schedule, but it does not retrain"
                if schedules
                else "no schedule or data trigger that retrains"
            ),
            key="ct",
        ),
    ]
    drift_met = bool(drift and alerts)
    items += [
        Item(
            2,
            "drift detection and alerting",
            drift_met,
            drift + alerts,
            _names(drift) + " with " + _names(alerts)
            if drift_met
            else (
                "drift is checked, but nothing alerts"
                if drift
                else "alerts, but no drift check"
                if alerts
                else "no drift check and no alerting"
            ),
            key="drift",
        ),
        Item(
            2,
            "A/B testing infrastructure",
            bool(ab),
            ab,
            _names(ab) if ab else "no traffic splitting",
            core=False,
            key="ab",
        ),
        Item(
            2,
            "feature store",
            bool(feature_store),
            feature_store,
            _names(feature_store) if feature_store else "no feature store",
            core=False,
            key="feature_store",
        ),
    ]
    level = 0
    for candidate in (1, 2):
        if all(i.met for i in items if i.core and 1 <= i.level <= candidate):
            level = candidate
    tools: dict[str, list[Evidence]] = {}
    for evidence in (
        notebooks
        + scripts
        + pipelines
        + tracking
        + registry
        + serving
        + ci_files
        + data_tests
        + monitoring
        + drift
        + alerts
        + ab
        + feature_store
    ):
        tools.setdefault(evidence.tool, []).append(evidence)
    return Findings(
        items, ml_test_score(repo, continuous, model_tests), tools, serving, training, level
    )


def ml_test_score(
    repo: Repository, continuous: list[Evidence], model_tests: list[Evidence]
) -> list[TestScoreItem]:
    """The ML Test Score tests (Breck et al. 2017) that files can show; the others (features'
    cost, privacy, offline/online correlation, ...) need people, not files. An mlops-ladder
    project with a recorded test run gets its readiness card instead: all 28, scored by the
    scorer of `make readiness` (readiness.py) from the files read here."""
    card = recorded_card(repo)
    if card is not None:
        return card

    def test(section: str, name: str, signals: list[Signal], note: str = "") -> TestScoreItem:
        evidence = first_per_file(find(repo, signals))
        return TestScoreItem(section, name, bool(evidence), evidence, note)

    seeds = first_per_file(find(repo, SEEDS))
    locks = find(repo, LOCKS)
    return [
        test("Data", "Data 1: feature expectations are captured in a schema", SCHEMA),
        test("Data", "Data 7: all input feature code is tested", FEATURE_TESTS),
        test("Model", "Model 3: all hyperparameters have been tuned", TUNING),
        test("Model", "Model 5: a simpler model is not better (baseline)", BASELINE),
        test("Model", "Model 6: model quality is sufficient on important data slices", SLICES),
        test("Model", "Model 7: the model is tested for considerations of inclusion", FAIRNESS),
        TestScoreItem(
            "Infrastructure",
            "Infra 1: training is reproducible (seeds and locked dependencies)",
            bool(seeds and locks),
            seeds + locks[:3],
            ""
            if seeds and locks
            else "missing: "
            + ", ".join(w for w, f in (("a fixed seed", seeds), ("a lock file", locks)) if not f),
        ),
        TestScoreItem(
            "Infrastructure", "Infra 2: model specs are unit tested", bool(model_tests), model_tests
        ),
        test("Infrastructure", "Infra 3: the ML pipeline is integration tested", PIPELINE_TESTS),
        test(
            "Infrastructure",
            "Infra 4: model quality is validated before attempting to serve it",
            QUALITY_GATE,
        ),
        test("Infrastructure", "Infra 6: models are canaried before serving", CANARY),
        test("Infrastructure", "Infra 7: serving models can be rolled back", ROLLBACK),
        test("Monitoring", "Monitor 1: dependency changes result in notification", DEPENDENCY_BOTS),
        test(
            "Monitoring",
            "Monitor 2: data invariants hold in training and serving inputs",
            SERVING_VALIDATION,
        ),
        TestScoreItem(
            "Monitoring",
            "Monitor 4: models are not too stale (scheduled retraining)",
            bool(continuous),
            continuous,
        ),
        test("Monitoring", "Monitor 6: computing performance has not regressed (latency)", LATENCY),
        test(
            "Monitoring",
            "Monitor 7: prediction quality has not regressed (live performance)",
            LIVE_PERFORMANCE,
        ),
    ]


SHORT = {"data": "Data", "model": "Model", "infrastructure": "Infra", "monitoring": "Monitor"}


def recorded_card(repo: Repository) -> list[TestScoreItem] | None:
    """The readiness card of an mlops-ladder project whose tests ran (reports/tests.json), as
    `make readiness` scores it; None for any other repository."""
    from mlops_ladder import readiness
    from mlops_ladder.errors import ProjectError

    def read(path: str) -> str | None:
        found = repo.file(path)
        return found.text if found is not None else None

    if "[tool.mlops-ladder]" not in (read("pyproject.toml") or ""):
        return None
    try:
        card = readiness.score(read)
    except ProjectError:
        return None
    items = []
    for key, section in card["sections"].items():
        for test in section["tests"]:
            number = test["id"].rsplit("-", 1)[1]
            name = test["name"][0].lower() + test["name"][1:]
            evidence = [
                Evidence("reports/tests.json", 1, "readiness card", line.strip())
                for line in test["evidence"]
            ]
            note = test["missing"] or "scored by the readiness card (make readiness)"
            if test["score"] == 0.5:
                note = f"half a point, done by hand; {note}"
            met = test["score"] == 1
            title = f"{SHORT[key]} {number}: {name}"
            items.append(TestScoreItem(readiness.SECTIONS[key], title, met, evidence, note))
    return items
