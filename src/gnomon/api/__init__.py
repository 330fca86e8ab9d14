"""The REST API (``/api/v1``), ``/health``, and the web UI, served by one ASGI app."""
