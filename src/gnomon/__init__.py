"""Gnomon: a workflow orchestrator for data pipelines.

DAG files import the authoring API from here::

    from gnomon import DAG, dag, task, chain, Param, TaskGroup, get_current_context
"""

from gnomon.authoring.baseoperator import BaseOperator, chain
from gnomon.authoring.dag import DAG, dag
from gnomon.authoring.params import Param
from gnomon.authoring.runcontext import get_current_context
from gnomon.authoring.taskflow import task
from gnomon.authoring.taskgroup import TaskGroup
from gnomon.version import __version__

__all__ = [
    "DAG",
    "BaseOperator",
    "Param",
    "TaskGroup",
    "__version__",
    "chain",
    "dag",
    "get_current_context",
    "task",
]
