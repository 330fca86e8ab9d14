"""The installed version of Gnomon."""

__version__ = "0.1.0"
