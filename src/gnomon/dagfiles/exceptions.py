"""Errors of the DAG-file layer (the messages name the folder, file or DAG at fault)."""

from __future__ import annotations

from gnomon.exceptions import GnomonError


class DagFilesError(GnomonError):
    """Base class of the DAG-file layer's errors."""


class DagsFolderError(DagFilesError):
    """The DAGs folder does not exist or cannot be read."""


class DagNotFoundError(DagFilesError):
    """No file in the DAGs folder defines the DAG (the message lists files that failed)."""
