"""Data-parallel training over MPI: run with ``mpiexec -n 2 python examples/data_parallel.py``.

Every rank runs this same script. fit(comm=...) splits each global batch of 64 rows across the
ranks and sums their gradients; the trained parameters are those of a one-process fit (up to float
summation order). Only rank 0 prints; ``distributed.save`` checks that the ranks agree, then rank 0
writes the file.
"""

import sys

from mpi4py import MPI

from fastmlp import MLP, datasets, distributed

comm = MPI.COMM_WORLD
X, y = datasets.load_digits()
X_train, y_train, X_test, y_test = datasets.train_test_split(X, y, 0.2, seed=0)

net = MLP([64, 128, 64, 10], activation="relu", keep_prob=0.9, batchnorm=True, seed=0)
history = net.fit(X_train, y_train, epochs=10, batch_size=64, optimizer="adam", comm=comm, verbose=True)

accuracy = net.evaluate(X_test, y_test)["accuracy"]  # every rank can predict: each holds the model
path = sys.argv[1] if len(sys.argv) > 1 else "digits_mpi.npz"
distributed.save(net, path, comm)
if comm.Get_rank() == 0:
    print(f"{comm.Get_size()} ranks: test accuracy {accuracy:.4f}, model saved to {path}")
