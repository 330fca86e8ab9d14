"""The authoring API: what DAG files import (re-exported from ``gnomon``)."""
