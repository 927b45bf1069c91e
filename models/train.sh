#!/usr/bin/env bash
# Retrain every shipped checkpoint (about 25 minutes on 2 CPU cores).
# Usage: LSTMVIZ_DATA_DIR=../shared/mnist bash models/train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python -m lstmviz train --preset default --cell lstm --seed 0 --out models/lstm.safetensors
python -m lstmviz train --preset notebook --cell lstm --seed 0 --out models/lstm-notebook.safetensors
python -m lstmviz train --preset default --cell lstm --seed 0 --no-augment --out models/lstm-noaug.safetensors
python -m lstmviz train --preset default --cell gru --seed 0 --out models/gru.safetensors
python -m lstmviz train --preset default --cell rnn --seed 0 --out models/rnn.safetensors
# What the app computes over the test set for these models (truncation curves, cell comparison, PCA axes
# and states, predictions), once, as small files keyed by the weights' and the test set's hashes.
python -m lstmviz precompute
