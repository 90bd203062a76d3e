"""Thin command entry points: parse arguments, call the modules, map errors to exit codes."""
