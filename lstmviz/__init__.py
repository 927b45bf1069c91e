"""lstmviz: open up an LSTM that reads MNIST digits row by row."""

__version__ = "0.1.0"
