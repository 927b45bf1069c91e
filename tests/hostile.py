"""Builders of bad files for the fault tests and benchmarks/bench_faults.py (no pytest here).

Every builder returns bytes; none needs much memory or time to build, even when the file asks
the loader for gigabytes.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
import zlib

import torch
from safetensors.torch import save as st_save

from lstmviz.checkpoint import checkpoint_bytes
from lstmviz.model import ModelConfig, build_model


def tiny_state(config: ModelConfig | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    model = build_model(config or ModelConfig(hidden_size=16, embed_size=16), seed=seed)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def oversize_state(hidden: int, embed: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    """A RowClassifier-shaped LSTM state dict of a size ModelConfig refuses (more than MAX_HIDDEN units),
    built from torch.nn directly: what a user could upload."""
    torch.manual_seed(seed)
    parts = {
        "proj": torch.nn.Linear(28, embed),
        "rnn": torch.nn.LSTM(embed, hidden, batch_first=True),
        "head": torch.nn.Linear(hidden, 10),
    }
    return {f"{name}.{k}": v.detach().clone() for name, m in parts.items() for k, v in m.state_dict().items()}


def torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def zip_bomb_pt(unpacked_bytes: int = 512 * 2**20) -> bytes:
    """A torch.save zip whose first tensor's storage is deflated: `unpacked_bytes` of zeros in a tiny file.

    The pickle declares a storage of that many bytes, so torch.load (if it ever got the file) would
    allocate and inflate all of it.
    """
    n = unpacked_bytes // 4
    src = zipfile.ZipFile(io.BytesIO(torch_bytes({"proj.weight": torch.zeros(1)})))
    pkl = src.read("archive/data.pkl")
    # the storage's element count (1) and the tensor's size (1,) -> n
    pkl = pkl.replace(b"K\x01t", b"J" + struct.pack("<i", n) + b"t", 1)
    pkl = pkl.replace(b"K\x01\x85", b"J" + struct.pack("<i", n) + b"\x85", 1)
    final = io.BytesIO()
    with zipfile.ZipFile(final, "w") as dst:
        for info in src.infolist():
            if info.filename == "archive/data/0":
                zi = zipfile.ZipInfo("archive/data/0")
                zi.compress_type = zipfile.ZIP_DEFLATED
                with dst.open(zi, "w", force_zip64=True) as f:  # streamed: little memory
                    chunk = bytes(1 << 20)
                    for _ in range(unpacked_bytes // len(chunk)):
                        f.write(chunk)
            else:
                data = pkl if info.filename.endswith("data.pkl") else src.read(info)
                dst.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
    return final.getvalue()


def lying_zip_sizes_pt() -> bytes:
    """A stored (uncompressed) torch.save zip whose directory claims a storage larger than the file."""
    data = bytearray(torch_bytes(tiny_state()))
    end = data.rfind(b"PK\x05\x06")
    cd = int.from_bytes(data[end + 16 : end + 20], "little")
    pos = cd
    while data[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra, comment = struct.unpack("<HHH", data[pos + 28 : pos + 34])
        name = bytes(data[pos + 46 : pos + 46 + name_len])
        if name.endswith(b"data/0"):
            data[pos + 24 : pos + 28] = struct.pack("<I", 2**31)  # uncompressed size
            data[pos + 20 : pos + 24] = struct.pack("<I", 2**31)  # compressed size
        pos += 46 + name_len + extra + comment
    return bytes(data)


def legacy_pickle_bomb() -> bytes:
    """A bare pickle (PyTorch's pre-1.6 layout) whose persistent id asks for a 4 GB storage."""
    header = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)  # torch's legacy magic number
    return (
        header + b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
        b"0X\x03\x00\x00\x00cpuJ\x00\x00\x00@tQ."
    )


class _Reduce:
    def __init__(self, func, args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def hostile_pickles(marker: str) -> dict[str, bytes]:
    """Seven kinds of pickles that run code when unpickled (each would create `marker`)."""
    touch = f"touch {marker}"
    state = tiny_state()
    kinds = {
        "os.system in torch.save": torch_bytes({**state, "proj.weight": _Reduce(os.system, (touch,))}),
        "builtins.open in torch.save": torch_bytes({**state, "head.bias": _Reduce(open, (marker, "w"))}),
        "builtins.exec in torch.save": torch_bytes({"x": _Reduce(exec, (f"open({marker!r}, 'w')",))}),
        "eval in a bare pickle": pickle.dumps({"x": _Reduce(eval, (f"open({marker!r}, 'w')",))}, protocol=2),
        "os.system in a bare pickle (protocol 4)": pickle.dumps(_Reduce(os.system, (touch,)), protocol=4),
        "subprocess in torch.save": torch_bytes({"x": _Reduce(__import__("subprocess").call, (["touch", marker],))}),
        "os.system pickle named .safetensors": pickle.dumps(_Reduce(os.system, (touch,)), protocol=2),
    }
    return kinds


def wrong_shape_pt(input_size: int = 28, n_classes: int = 10) -> bytes:
    """A .pt state dict of a tiny LSTM with another input size or class count."""
    cfg = ModelConfig(hidden_size=16, embed_size=16, input_size=input_size, n_classes=n_classes)
    return torch_bytes(tiny_state(cfg))


def wrong_shape_safetensors(input_size: int = 28, n_classes: int = 10, with_metadata: bool = True) -> bytes:
    cfg = ModelConfig(hidden_size=16, embed_size=16, input_size=input_size, n_classes=n_classes)
    model = build_model(cfg, seed=0)
    if with_metadata:
        return checkpoint_bytes(model, {"test_accuracy": 0.5})
    return st_save({k: v.contiguous() for k, v in model.state_dict().items()})


def markdown_recipe_safetensors() -> bytes:
    model = build_model(ModelConfig(hidden_size=16, embed_size=16), seed=0)
    return checkpoint_bytes(
        model, {"recipe": {"preset": "[free A+ here](https://evil.example) **now**"}, "test_accuracy": 0.5}
    )


def nan_safetensors() -> bytes:
    state = tiny_state()
    state["proj.weight"][0, 0] = float("nan")
    return st_save(state)


def png_bytes(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height, all zero: tiny on disk whatever its size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = zlib.compressobj(9)
    row = b"\x00" + bytes((width + 7) // 8)
    body = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
