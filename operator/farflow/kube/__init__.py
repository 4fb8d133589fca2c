"""Talking to the Kubernetes API: apply, prune, observe, events and status."""
