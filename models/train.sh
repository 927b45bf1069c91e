#!/usr/bin/env bash
# Retrain every shipped checkpoint (about 25 minutes on 2 CPU cores, plus the 2-layer LSTM's).
# Usage: LSTMVIZ_DATA_DIR=../shared/mnist bash models/train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python -m lstmviz train --preset default --cell lstm --seed 0 --out models/lstm.safetensors
python -m lstmviz train --preset notebook --cell lstm --seed 0 --out models/lstm-notebook.safetensors
python -m lstmviz train --preset default --cell lstm --seed 0 --no-augment --out models/lstm-noaug.safetensors
python -m lstmviz train --preset default --cell gru --seed 0 --out models/gru.safetensors
python -m lstmviz train --preset default --cell rnn --seed 0 --out models/rnn.safetensors
# Two stacked LSTM layers of 128 units (the others' width, for a fair comparison). 12 epochs, not the preset's 30:
# at about 0.5 s a batch on one busy core the full 30 would not have fitted the session that shipped it.
python -m lstmviz train --preset default --cell lstm --layers 2 --hidden 128 --epochs 12 --threads 1 --seed 0 --out models/lstm-2layer.safetensors
# What the app computes over the test set for these models (truncation curves, cell comparison, PCA axes
# and states, predictions), once, as small files keyed by the weights' and the test set's hashes.
python -m lstmviz precompute
