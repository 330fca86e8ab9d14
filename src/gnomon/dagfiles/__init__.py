"""DAG files: find them (``discovery``), import one in-process (``loader``), parse them safely
in child processes (``parser``), and a whole folder at once (``bag``)."""
