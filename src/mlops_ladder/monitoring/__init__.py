"""Monitoring: is the model still seeing the data it was trained on, and still right about it?

`python -m mlops_ladder monitor` compares the champion's training data (the
reference) with what the model sees now (the prediction log of the serving app, or any batch
file of the same schema), feature by feature and for the predictions, checks live performance
when labels arrive, and decides whether the model needs retraining. Inputs are read in chunks:
memory grows with the number of histogram cells, not with the number of rows.

Modules: `sources` (reading files and the log in chunks), `profile` (streaming histograms and
counts), `stats` (the drift statistics), `drift` (tests per column and the verdict),
`performance` (labels joined to predictions), `report` (JSON and HTML), `push` (Prometheus
Pushgateway), `job` (the command).
"""
