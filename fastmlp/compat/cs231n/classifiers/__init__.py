"""``cs231n/classifiers``: the fully connected models of assignments 1 and 2."""

from . import fc_net, neural_net
