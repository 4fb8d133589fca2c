"""Task containers run outside the Celery workers; a package so images and tests run them
with the same ``python -m tasks.<name>.app`` (see README.md)."""
