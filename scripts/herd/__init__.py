"""herd's operations helpers: importable modules with thin command entry points."""
