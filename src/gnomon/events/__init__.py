"""Events that wake the control plane: finished tasks, triggers, new DAG versions."""
