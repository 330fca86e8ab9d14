"""The serialized DAG: plain JSON the scheduler, API and UI work from, never user code."""
