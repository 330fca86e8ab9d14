"""Pure orchestration semantics: no I/O, shared by ``gnomon dags test`` and the scheduler."""
