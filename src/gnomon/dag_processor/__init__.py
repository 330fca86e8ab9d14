"""The DAG processor: keeps the stored DAGs, their versions and import errors in step with the
DAGs folder, reparsing only the files that changed (``processor``, ``file_cache``)."""
