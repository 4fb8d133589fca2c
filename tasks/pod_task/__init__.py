"""The Kubernetes pod task: an orders CSV filtered by amount, with an amount band."""
