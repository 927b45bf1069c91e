"""Helpers for the stacked-model tests: a varied stacked model, and the same model with units silenced by
its weights (a torch-only way to get what `Intervention(silence=..., layer=k)` computes)."""

from __future__ import annotations

import copy

import torch

from lstmviz.model import ModelConfig, build_model


def stacked_model(cell: str, layers: int = 2, hidden: int = 16, seed: int = 0, scale: float = 2.0):
    """A random stacked model with larger weights, so units saturate and states swing as in a trained one."""
    model = build_model(ModelConfig(cell=cell, hidden_size=hidden, embed_size=16, num_layers=layers), seed=seed)
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(scale)
    return model.eval()


def silenced_copy(model, layer: int, units) -> torch.nn.Module:
    """A copy whose `units` of `layer` stay exactly 0: their candidate rows (a plain RNN: their only rows) are
    zeroed, so the candidate is tanh(0) = 0 and, from the zero state, c and h stay 0 (LSTM: c = f*0 + i*0;
    GRU: h = (1-z)*0 + z*0). torch's own stacked module then runs the silenced model."""
    out = copy.deepcopy(model)
    H, cell = model.config.hidden_size, model.config.cell
    block = {"lstm": 2, "gru": 2, "rnn": 0}[cell]  # the candidate's block in torch's gate order
    rows = [block * H + u for u in units]
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(out.rnn, f"{name}_l{layer}")[rows] = 0.0
    return out.eval()
