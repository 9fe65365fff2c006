"""One rank of a torchrun test: trains with the options given as JSON and saves what this
rank ended with as RANK.w2gm in the output folder.

    torchrun --standalone --nproc-per-node N tests/distributed_worker.py CORPUS FOLDER OPTIONS_JSON
"""

import json
import os
import sys
from pathlib import Path

import w2gm
from w2gm.stopping import TrainingInterrupted

corpus, folder, options = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
try:
    model = w2gm.train(corpus, **options)
except TrainingInterrupted as stopped:
    print(f"rank {os.environ['RANK']}: {stopped}", file=sys.stderr)
    sys.exit(0)
model.save(folder / f"{os.environ['RANK']}.w2gm")
