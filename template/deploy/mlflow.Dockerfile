# The MLflow server of deploy/compose.yaml: the official image plus what this setup needs, as
# the `team` dependency group of pyproject.toml has it: authentication (mlflow[auth]), the
# PostgreSQL driver and the S3 client.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir "mlflow[auth]==3.17.2" psycopg2-binary==2.9.13 boto3==1.44.8
