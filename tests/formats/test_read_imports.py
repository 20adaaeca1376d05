"""Reading a session imports what it needs and no more: pyarrow parses the cells, pandas is not
loaded (its import costs about 0.3 s of every `analyze`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"

_READ = """
import json, sys
import numpy as np
from balancelab.formats.dataset import iter_sessions
gaps = sum(int(np.isnan(r.values).sum()) for s in iter_sessions(sys.argv[1]) for r in s.recordings)
loaded = {name: name in sys.modules for name in ("pyarrow", "pandas")}
print(json.dumps({"gaps": gaps, **loaded}))
"""


def test_reading_a_session_with_gaps_does_not_import_pandas(tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(RECORDINGS, root)
    done = subprocess.run(
        [sys.executable, "-c", _READ, str(root)], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout)
    assert found["gaps"] > 0  # the n/a cells arrived as NaN through Arrow's null bitmap
    assert found["pyarrow"]
    assert not found["pandas"]
