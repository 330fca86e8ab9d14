"""The built-in operators: ``from gnomon.operators import PythonOperator, BashOperator, ...``."""

from gnomon.operators.bash import BashOperator
from gnomon.operators.empty import EmptyOperator
from gnomon.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)

__all__ = [
    "BashOperator",
    "BranchPythonOperator",
    "EmptyOperator",
    "PythonOperator",
    "ShortCircuitOperator",
]
