"""Model files from a careless or hostile source, and saves that behave like ``open(path, "w")``."""

import io
import json
import os
import stat
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp.io import META_KEY, ModelFileError


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _meta_bytes(meta):
    return _npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


def _with_meta(saved_path, dest, meta_or_raw):
    members = _members(saved_path)
    raw = meta_or_raw if isinstance(meta_or_raw, bytes) else json.dumps(meta_or_raw).encode()
    members[META_KEY + ".npy"] = _npy(np.frombuffer(raw, dtype=np.uint8))
    _write(dest, members)
    return dest


def test_a_missing_path_or_a_directory_is_named_as_such(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file") as caught:
        fastmlp.load(tmp_path / "nope.npz")
    assert caught.value.filename == str(tmp_path / "nope.npz")
    with pytest.raises(IsADirectoryError):
        fastmlp.load(tmp_path)


HEAD = {"format": "fastmlp-model", "format_version": 1}


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps([1, 2, 3]).encode(),
        ("[" * 100_000 + "]" * 100_000).encode(),
        json.dumps({**HEAD, "layers": "Dense", "loss": {}}).encode(),
        json.dumps({**HEAD, "layers": [7], "loss": {}}).encode(),
        json.dumps({**HEAD, "layers": [{"type": "Dense"}], "loss": {}}).encode(),
        json.dumps({**HEAD, "layers": [{"type": "Dense", "config": {"n_in": "4"}}], "loss": {}}).encode(),
        b"\xff\xfe not utf-8",
    ],
    ids=["list", "deeply-nested", "layers-a-string", "layer-a-number", "no-config", "bad-config", "not-utf8"],
)
def test_metadata_of_the_wrong_shape_is_a_model_file_error(saved, tmp_path, raw):
    _, good = saved
    with pytest.raises(ModelFileError):
        fastmlp.load(_with_meta(good, tmp_path / "bad.npz", raw))


def test_a_truncated_member_is_reported_as_truncated(saved, tmp_path):
    _, good = saved
    members = _members(good)
    name = "0.W.npy"
    members[name] = members[name][:-7]  # a valid archive whose member lost its last bytes
    path = tmp_path / "cut.npz"
    _write(path, members)
    with pytest.raises(ModelFileError, match=r"'0.W.npy' is truncated or padded") as caught:
        fastmlp.load(path)
    assert "pickle" not in str(caught.value)


def test_object_arrays_are_refused_as_needing_pickle(saved, tmp_path):
    _, good = saved
    members = _members(good)
    members["0.W.npy"] = _npy(np.array([{"a": 1}], dtype=object))
    path = tmp_path / "objects.npz"
    _write(path, members)
    with pytest.raises(ModelFileError, match="would need pickle"):
        fastmlp.load(path)


def _peak_bytes_while(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_small_file_cannot_make_load_allocate_what_it_claims(saved, tmp_path):
    """Metadata describing a 12000 x 12000 layer over 3 x 4 arrays, and a header claiming 10^12
    elements in a few bytes: both refused before anything that size is allocated."""
    _, good = saved
    with np.load(good) as npz:
        meta = json.loads(npz[META_KEY].tobytes())
    meta["layers"][0]["config"].update(n_in=12000, n_out=12000)
    big_model = _with_meta(good, tmp_path / "big-model.npz", meta)
    assert os.path.getsize(big_model) < 20_000

    def load_big_model():
        with pytest.raises(ModelFileError, match=r"declares W of shape \(12000, 12000\)"):
            fastmlp.load(big_model)

    assert _peak_bytes_while(load_big_model) < 5_000_000

    members = _members(good)
    header = _npy(np.zeros(3))
    members["0.b.npy"] = header.replace(b"(3,)", b"(1000000000000,)".ljust(len(b"(3,)")))
    claims = tmp_path / "claims.npz"
    _write(claims, members)

    def load_claims():
        with pytest.raises(ModelFileError):
            fastmlp.load(claims)

    assert _peak_bytes_while(load_claims) < 5_000_000


def test_a_member_claiming_more_than_deflate_can_give_is_refused(saved, tmp_path):
    _, good = saved
    path = tmp_path / "bomb.npz"
    _write(path, _members(good), zipfile.ZIP_DEFLATED)
    fastmlp.load(path)  # an honest compressed archive loads
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("0.W.npy")
    # lie in the central directory (signature PK\1\2; uncompressed size at +24, name length at
    # +28, name at +46): the member "expands" to 1 GB
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = int.from_bytes(data[at + 28 : at + 30], "little")
        if bytes(data[at + 46 : at + 46 + name_len]) == b"0.W.npy":
            data[at + 24 : at + 28] = (10**9).to_bytes(4, "little")
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    assert info.compress_size < 10_000
    with pytest.raises(ModelFileError, match="claims 1000000000 bytes"):
        fastmlp.load(path)


def test_save_into_a_missing_directory_names_the_directory(tmp_path):
    target = tmp_path / "no" / "such" / "model.npz"
    with pytest.raises(FileNotFoundError, match="does not exist") as caught:
        fastmlp.MLP([2, 2], seed=0).save(target)
    assert str(tmp_path / "no" / "such") in str(caught.value)
    assert ".fastmlp" not in str(caught.value)


def test_save_keeps_permissions_like_open_would(tmp_path):
    net = fastmlp.MLP([2, 2], seed=0)
    existing = tmp_path / "shared.npz"
    existing.write_bytes(b"old")
    os.chmod(existing, 0o644)
    net.save(existing)
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o644
    os.chmod(existing, 0o640)
    net.save(existing)
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.npz"
        net.save(fresh)
        assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o644
    finally:
        os.umask(umask)


def test_save_through_a_symlink_writes_its_target(tmp_path):
    net = fastmlp.MLP([2, 2], seed=0)
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "real.npz"
    target.write_bytes(b"old")
    link = tmp_path / "current.npz"
    link.symlink_to(target)
    net.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(fastmlp.load(target).get_state()["0.W"], net.get_state()["0.W"])


def test_temporaries_of_killed_saves_are_ignored_then_cleaned(tmp_path):
    net = fastmlp.MLP([2, 2], seed=0)
    path = tmp_path / "model.npz"
    stale = tmp_path / ".model.npz.fastmlp-tmp-abc123"
    fresh = tmp_path / ".model.npz.fastmlp-tmp-def456"
    other = tmp_path / ".other.npz.fastmlp-tmp-abc123"
    for leftover in (stale, fresh, other):
        leftover.write_bytes(b"half a file")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    net.save(path)
    assert not stale.exists()  # a killed save's leftover, an hour old
    assert fresh.exists()  # may belong to a save still running elsewhere
    assert other.exists()  # another file's
    fastmlp.load(path)
