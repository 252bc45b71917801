# The MLflow server of deploy/compose.yaml: Python's image, pinned by digest (Dependabot proposes
# the tag's new digest), and the packages of requirements/mlflow-server.txt, each pinned by
# version and by the sha256 of its files: authentication (mlflow[auth]), the PostgreSQL driver
# and the S3 client. It runs as a user of its own, not root.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
COPY requirements/mlflow-server.txt /tmp/mlflow-server.txt
RUN python -m pip install --no-cache-dir --only-binary :all: --require-hashes \
      -r /tmp/mlflow-server.txt \
    && groupadd --gid 10001 mlflow \
    && useradd --uid 10001 --gid mlflow --no-create-home --shell /usr/sbin/nologin mlflow \
    && mkdir -p /var/lib/mlflow-auth \
    && chown 10001:10001 /var/lib/mlflow-auth
USER 10001:10001
