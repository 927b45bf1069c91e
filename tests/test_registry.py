"""The model list (header-only metadata) and uploads: what is accepted, what is refused and why."""

from __future__ import annotations

import io
import pickle

import pytest
import torch
from safetensors.torch import save as st_save

from lstmviz.checkpoint import (
    DEFAULT_CHECKPOINT,
    MODELS_DIR,
    CheckpointError,
    checkpoint_bytes,
    load_checkpoint,
    weights_hash,
)
from lstmviz.evaluate import accuracy
from lstmviz.model import ModelConfig, build_model
from lstmviz.registry import (
    MODELS_ENV_VAR,
    UploadJob,
    import_upload,
    list_models,
    read_info,
    safe_stem,
    save_new_checkpoint,
    user_models_dir,
    write_new_file,
)


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    folder = tmp_path / "user-models"
    monkeypatch.setenv(MODELS_ENV_VAR, str(folder))
    return folder


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_user_folder_comes_from_the_environment(user_dir):
    assert user_models_dir() == user_dir


def test_listing_reads_headers_and_flags_bad_files(user_dir, tiny_model):
    metrics = {
        "test_accuracy": 0.5,
        "recipe": {"preset": "notebook"},
        "source": "trained",
        "date": "2026-01-01T10:00:00",
    }
    good = save_new_checkpoint(user_dir, "mine", tiny_model, metrics)
    data = good.read_bytes()
    (user_dir / "junk.safetensors").write_bytes(b"this is not a checkpoint at all")
    (user_dir / "cut.safetensors").write_bytes(data[:-200])
    (user_dir / ".hidden.safetensors").write_bytes(data)  # temp files start with a dot: not listed

    models = list_models()
    by_name = {m.path.name: m for m in models}
    assert models[0].path.resolve() == DEFAULT_CHECKPOINT.resolve() and models[0].kind == "shipped"
    assert all(m.kind == "shipped" for m in models if m.path.parent.resolve() == MODELS_DIR.resolve())
    assert ".hidden.safetensors" not in by_name

    mine = by_name["mine.safetensors"]
    assert mine.valid and mine.kind == "trained" and mine.recipe == "notebook"
    assert mine.accuracy == 0.5 and mine.cell == "lstm" and mine.hidden_size == 16
    assert mine.n_params == tiny_model.n_params()
    assert mine.file_size == good.stat().st_size
    assert "mine (trained)" in mine.label() and "50.00%" in mine.label()

    assert not by_name["junk.safetensors"].valid and by_name["junk.safetensors"].error
    cut = by_name["cut.safetensors"]
    assert not cut.valid and "truncated" in cut.error


def test_listing_checks_shapes_against_the_declared_config(user_dir):
    model = build_model(ModelConfig(hidden_size=16), seed=0)
    data = checkpoint_bytes(model, {})
    header_len = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + header_len].replace(b'\\"hidden_size\\": 16', b'\\"hidden_size\\": 32')
    assert header != data[8 : 8 + header_len]
    user_dir.mkdir(parents=True)
    path = user_dir / "lying.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + data[8 + header_len :])
    info = read_info(path)
    assert not info.valid and "shape" in info.error


def test_upload_of_a_safetensors_checkpoint(user_dir, tiny_model):
    data = checkpoint_bytes(tiny_model, {"test_accuracy": 0.25, "recipe": {"preset": "default"}})
    path = import_upload("my model.safetensors", data)
    assert path.parent == user_dir and path.name == "my-model.safetensors"
    loaded = load_checkpoint(path)
    assert weights_hash(loaded.model) == weights_hash(tiny_model)
    assert loaded.metrics["source"] == "uploaded" and loaded.metrics["test_accuracy"] == 0.25
    info = read_info(path)
    assert info.valid and info.kind == "uploaded" and info.hidden_size == 16


def test_upload_of_a_pt_state_dict_measures_accuracy(user_dir, tiny_model, test_split):
    buf = io.BytesIO()
    torch.save(tiny_model.state_dict(), buf)
    small = test_split.subset(500)
    path = import_upload("net.pt", buf.getvalue(), small)
    loaded = load_checkpoint(path)
    assert path.suffix == ".safetensors"
    assert weights_hash(loaded.model) == weights_hash(tiny_model)
    assert loaded.config.hidden_size == 16 and loaded.config.embed_size == 16
    assert loaded.metrics["test_accuracy"] == pytest.approx(accuracy(tiny_model, small))
    assert read_info(path).accuracy == pytest.approx(accuracy(tiny_model, small))


def test_upload_with_wrong_shapes_is_refused(user_dir, tiny_model):
    state = tiny_model.state_dict()
    state["rnn.weight_hh_l0"] = torch.zeros(64, 8)  # the model has 16 hidden units: (4 * 16, 16)
    buf = io.BytesIO()
    torch.save(state, buf)
    with pytest.raises(CheckpointError, match="shape"):
        import_upload("wrong.pt", buf.getvalue())
    tensors = {k: v.contiguous() for k, v in state.items()}
    with pytest.raises(CheckpointError, match="shape"):
        import_upload("wrong.safetensors", st_save(tensors))
    assert _files(user_dir) == []


def test_upload_claiming_a_huge_config_is_refused_without_allocating(user_dir, tiny_model):
    tensors = {k: v.contiguous() for k, v in tiny_model.state_dict().items()}
    meta = {"format": "lstmviz/1", "config": '{"hidden_size": 65536, "embed_size": 65536}', "metrics": "{}"}
    with pytest.raises(CheckpointError, match="larger than this app shows"):
        import_upload("huge.safetensors", st_save(tensors, metadata=meta))
    assert _files(user_dir) == []


def test_truncated_uploads_are_refused(user_dir, tiny_model):
    data = checkpoint_bytes(tiny_model, {})
    with pytest.raises(CheckpointError, match="truncated"):
        import_upload("cut.safetensors", data[: len(data) // 2])
    buf = io.BytesIO()
    torch.save(tiny_model.state_dict(), buf)
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        import_upload("cut.pt", buf.getvalue()[:-300])
    with pytest.raises(CheckpointError, match="empty or truncated"):
        import_upload("empty.safetensors", b"")
    assert _files(user_dir) == []


class _Hostile:
    """Unpickling this would create a file (if the loader ran code)."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("form", ["raw pickle", "torch.save zip", "pickle named .safetensors"])
def test_hostile_pickle_runs_no_code(user_dir, tmp_path, form):
    target = tmp_path / f"pwned-{form.replace(' ', '-')}"
    if form == "torch.save zip":
        buf = io.BytesIO()
        torch.save({"proj.weight": _Hostile(target)}, buf)
        data, name = buf.getvalue(), "evil.pt"
    else:
        data = pickle.dumps({"proj.weight": _Hostile(target)}, protocol=2)
        name = "evil.pt" if form == "raw pickle" else "evil.safetensors"
    assert not target.exists()
    with pytest.raises(CheckpointError) as err:
        import_upload(name, data)
    text = str(err.value)
    assert "refused" in text and "code references" in text and "nothing in it ran" in text
    assert "io.open" in text  # names what was refused, whatever PyTorch's wording
    assert "weights_only" not in text  # never advice to load unsafely
    assert not target.exists()
    assert _files(user_dir) == []


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../etc/passwd.safetensors", "passwd.safetensors"),
        ("..\\..\\windows\\evil.pt", "evil.safetensors"),
        ("/abs/path/ok.pth", "ok.safetensors"),
        ("..", "upload.safetensors"),
        ("über model (final).safetensors", "ber-model-final.safetensors"),
        (".hidden.safetensors", "hidden.safetensors"),
    ],
)
def test_upload_names_are_sanitised(user_dir, tiny_model, name, expected):
    path = import_upload(name, checkpoint_bytes(tiny_model, {}))
    assert path.parent == user_dir and path.name == expected
    assert _files(user_dir) == [expected]


def test_safe_stem_keeps_only_plain_characters():
    assert safe_stem("a/b/../c d.safetensors") == "c-d"
    assert safe_stem("x" * 200).startswith("x") and len(safe_stem("x" * 200)) == 60
    assert safe_stem("///", default="model") == "model"


def test_new_files_never_overwrite(user_dir, tiny_model):
    first = import_upload("same.safetensors", checkpoint_bytes(tiny_model, {"test_accuracy": 0.1}))
    before = first.read_bytes()
    other = build_model(ModelConfig(hidden_size=16, embed_size=16), seed=1)
    second = import_upload("same.safetensors", checkpoint_bytes(other, {}))
    assert second.name == "same-2.safetensors"
    assert first.read_bytes() == before
    assert weights_hash(load_checkpoint(second).model) == weights_hash(other)
    assert not [p for p in user_dir.iterdir() if p.name.endswith(".tmp")]


def test_the_shipped_folder_is_never_written(tiny_model):
    before = _files(MODELS_DIR)
    with pytest.raises(CheckpointError, match="shipped models folder"):
        write_new_file(MODELS_DIR, "lstm", ".safetensors", b"x")
    assert _files(MODELS_DIR) == before


# --- a shared folder: partial files, a cap, full or read-only disks (issue 15.4, 15.6; 14.6) ------


def test_clean_partial_files_removes_only_old_hidden_partials(user_dir, tiny_model):
    import os
    import time

    from lstmviz.registry import clean_partial_files

    kept = import_upload("kept.safetensors", checkpoint_bytes(tiny_model, {}))
    old = user_dir / ".lstm.0a1b2c.part.x7y8z9.tmp"
    fresh = user_dir / ".lstm.3d4e5f.part.q1w2e3.tmp"
    not_partial = user_dir / "notes.tmp"
    for p in (old, fresh, not_partial):
        p.write_bytes(b"partial")
    os.utime(old, (time.time() - 600, time.time() - 600))
    os.utime(not_partial, (time.time() - 600, time.time() - 600))
    assert clean_partial_files(user_dir) == [old]
    assert not old.exists() and fresh.exists() and not_partial.exists() and kept.exists()


def test_the_models_folder_cap_refuses_new_files_and_deletes_nothing(user_dir, tiny_model, monkeypatch):
    from lstmviz.registry import MAX_MODELS_ENV_VAR, MAX_MODELS_MB_ENV_VAR, FolderError

    first = import_upload("one.safetensors", checkpoint_bytes(tiny_model, {}))
    monkeypatch.setenv(MAX_MODELS_ENV_VAR, "1")
    with pytest.raises(FolderError, match="models folder is full") as err:
        import_upload("two.safetensors", checkpoint_bytes(tiny_model, {}))
    assert MAX_MODELS_ENV_VAR in str(err.value) and "Nothing was saved" in str(err.value)
    monkeypatch.setenv(MAX_MODELS_ENV_VAR, "10")
    monkeypatch.setenv(MAX_MODELS_MB_ENV_VAR, "0")
    with pytest.raises(FolderError, match="models folder is full"):
        import_upload("three.safetensors", checkpoint_bytes(tiny_model, {}))
    assert _files(user_dir) == ["one.safetensors"] and first.exists()
    assert not [p for p in user_dir.iterdir() if p.name.startswith(".")]  # no partial file left


@pytest.mark.parametrize(
    "code, words", [(28, "the disk is full"), (30, "read-only file system"), (13, "permission denied")]
)
def test_write_errors_become_one_clear_line(user_dir, tiny_model, monkeypatch, code, words):
    import os

    from lstmviz import registry
    from lstmviz.registry import FolderError

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(registry, "atomic_write_bytes", fail)
    with pytest.raises(FolderError) as err:
        import_upload("x.safetensors", checkpoint_bytes(tiny_model, {}))
    assert words in str(err.value) and "Errno" not in str(err.value)


def test_metadata_text_is_plain_and_short():
    from lstmviz.registry import plain_text

    assert plain_text("a\x00b\nc" + "x" * 100, 10) == "a b cxxxx…"
    assert plain_text(["not", "text"]) is None


def test_upload_job_scores_in_a_thread_with_progress_then_saves(user_dir, tiny_model, test_split):
    buf = io.BytesIO()
    torch.save(tiny_model.state_dict(), buf)
    small = test_split.subset(2500)
    job = UploadJob("bg.pt", buf.getvalue(), small)
    path = job.wait(120)
    fraction, message, result, error = job.status()
    assert error is None and result == path and fraction == 1.0
    assert path.parent == user_dir and path.name == "bg.safetensors"
    loaded = load_checkpoint(path)
    assert loaded.metrics["test_accuracy"] == pytest.approx(accuracy(tiny_model, small), abs=1e-6)
    assert loaded.metrics["n_test"] == 2500 and loaded.metrics["accuracy_source"] == "measured by lstmviz on upload"
    seen = []
    from lstmviz.registry import score

    score(tiny_model, small, lambda done, total: seen.append((done, total)))
    assert seen == [(1000, 2500), (2000, 2500), (2500, 2500)]


def test_upload_job_refuses_a_bad_file_at_once(user_dir):
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        UploadJob("notes.pt", b"my lecture notes\n" * 40, None)
    assert not user_dir.exists() or not list(user_dir.iterdir())


def test_caption_names_the_depth_of_a_stacked_model():
    """The sidebar's caption says how many layers a stacked model has (and nothing extra for one layer)."""
    from lstmviz.checkpoint import DEFAULT_CHECKPOINT

    stacked = read_info(DEFAULT_CHECKPOINT.parent / "lstm-2layer.safetensors")
    assert stacked.num_layers == 2 and "2 layers of LSTM, hidden 128" in stacked.caption()
    single = read_info(DEFAULT_CHECKPOINT)
    assert single.num_layers == 1 and "layers" not in single.caption()
