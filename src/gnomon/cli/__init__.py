"""The ``gnomon`` command line (click): ``gnomon.cli.main:main``."""
