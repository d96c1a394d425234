"""A pytest plugin (``-p thinc_with_fastmlp``) that makes thinc's own test suite test FastmlpOps:
before thinc's test modules import ``NumpyOps`` (``from thinc.api import NumpyOps``), the name is
bound to :class:`fastmlp.thinc_ops.FastmlpOps`, so every test thinc runs on its NumPy ops (the
ops lists, ``test_ops_consistency``'s class) runs on fastmlp's. Used by tests/test_thinc.py."""

import thinc.api
import thinc.backends

from fastmlp.thinc_ops import FastmlpOps

thinc.api.NumpyOps = FastmlpOps
thinc.backends.NumpyOps = FastmlpOps
