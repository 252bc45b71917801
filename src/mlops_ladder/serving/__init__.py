"""Online serving of the registered model over HTTP.

settings.py        which model (MODEL_URI), request limits, access, the challenger's share
access.py          the API key, /metrics and the docs open, behind the key or off, a rate limit
loading.py         the model from the registry or an exported folder, its files' digest
                   checked first (integrity.py); `export-model`
inference.py       the pipeline compiled for fast, identical single-request predictions
payloads.py        request and response bodies, generated from schema.yaml
routing.py         champion/challenger split by request key
prediction_log.py  every prediction as JSON Lines, for the monitoring job
telemetry.py       Prometheus metrics
app.py             the FastAPI application
server.py          uvicorn with N workers (`serve`)
"""
