"""The truncation pages share one background job per model weights and test set."""

import streamlit as st

from lstmviz.checkpoint import load_checkpoint
from lstmviz.data import Split
from lstmviz.ui.truncation import forget_jobs, truncation_job


def test_one_job_per_weights_and_test_set(tiny_checkpoint, tiny_model, test_split):
    st.cache_resource.clear()
    small = Split(test_split.images[:50], test_split.labels[:50])
    first = truncation_job(load_checkpoint(tiny_checkpoint), small)
    again = truncation_job(load_checkpoint(tiny_checkpoint), small)  # another load, same weights
    assert again is first
    other_data = Split(test_split.images[:40], test_split.labels[:40])
    second = truncation_job(load_checkpoint(tiny_checkpoint), other_data)
    assert second is not first
    forget_jobs()
    third = truncation_job(load_checkpoint(tiny_checkpoint), small)
    assert third is not first
    for job in (first, second, third):  # no thread left running at exit
        assert job.wait(60) is not None
    st.cache_resource.clear()


def test_the_test_set_is_hashed_once_per_object(tiny_checkpoint, test_split, monkeypatch):
    import lstmviz.ui.cache as cache  # data_id (used by truncation_job) hashes with split_key

    st.cache_resource.clear()
    calls = []
    monkeypatch.setattr(cache, "split_key", lambda split: calls.append(1) or f"key-{len(split)}")
    small = Split(test_split.images[:30], test_split.labels[:30])
    loaded = load_checkpoint(tiny_checkpoint)
    first = truncation_job(loaded, small)
    assert truncation_job(loaded, small) is first and len(calls) == 1  # a rerun: no new hash
    other = Split(test_split.images[:20], test_split.labels[:20])
    assert truncation_job(loaded, other) is not first and len(calls) == 2
    for job in (first, truncation_job(loaded, other)):
        assert job.wait(60) is not None
    st.cache_resource.clear()
