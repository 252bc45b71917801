"""How the data comes in: the table every stage after ingest reads.

By default, the CSV or Parquet file params.yaml `ingest.source` names, read as it is. If your
data lives elsewhere (a database, an API, files to join), return the same table here from
`source` and everything downstream works unchanged: the validate stage checks it against
schema.yaml first.
"""

import pandas as pd
from mlops_ladder.data import ingest as read_file


def ingest(source: str) -> pd.DataFrame:
    return read_file(source)
