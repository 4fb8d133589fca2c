"""The cluster tier's fixtures are shared with the helm and e2e tiers: see
tests/fixtures/controlplane.py."""
