"""Model files: exact round trips (see test_model.py) and refusal of anything that is not ours."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp.io import META_KEY, ModelFileError


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="not a fastmlp model file"):
        fastmlp.load(path)


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.ones(3))
    with pytest.raises(ModelFileError, match="no metadata"):
        fastmlp.load(path)


def test_pickled_objects_are_never_unpickled(tmp_path, saved):
    _, good = saved

    class Boom:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.npz"
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["0.W"] = np.array([Boom()], dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="pickle"):
        fastmlp.load(path)
    raw = tmp_path / "raw.npz"  # a zip whose member is a bare pickle
    with zipfile.ZipFile(raw, "w") as zf:
        zf.writestr(META_KEY + ".npy", pickle.dumps(Boom()))
    with pytest.raises(ModelFileError):
        fastmlp.load(raw)


def test_truncated_file_is_refused(tmp_path, saved):
    _, good = saved
    data = good.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        fastmlp.load(path)


def _rewrite_meta(src, dst, change):
    with np.load(src) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays[META_KEY].tobytes())
    change(meta)
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)


def test_newer_format_and_unknown_layers_are_refused(tmp_path, saved):
    _, good = saved
    newer = tmp_path / "newer.npz"
    _rewrite_meta(good, newer, lambda m: m.update(format_version=99))
    with pytest.raises(ModelFileError, match="format 99"):
        fastmlp.load(newer)
    alien = tmp_path / "alien.npz"
    _rewrite_meta(good, alien, lambda m: m["layers"][0].update(type="Conv2D"))
    with pytest.raises(ModelFileError, match="Conv2D"):
        fastmlp.load(alien)
    wrong = tmp_path / "wrong.npz"
    _rewrite_meta(good, wrong, lambda m: m["layers"][0]["config"].update(n_out=5))
    with pytest.raises(ModelFileError, match=r"declares W of shape \(4, 5\), but the file's array has shape \(4, 3\)"):
        fastmlp.load(wrong)


def test_save_is_atomic_and_leaves_no_temporaries(tmp_path, saved):
    net, path = saved
    before = path.read_bytes()
    net.layers[0].W.value[0, 0] += 1
    net.save(path)
    assert path.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]
    buf = io.BytesIO(path.read_bytes())
    assert zipfile.is_zipfile(buf)
