"""What both task containers share: S3 access, the orders input and the exit codes."""
