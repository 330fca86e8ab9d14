"""End-to-end tests (a package, so that its conftest has a module name of its own)."""
