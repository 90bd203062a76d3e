"""Hosting: customers' orders become instances of a fleet inventory (`herd instance`)."""
