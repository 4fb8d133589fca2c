"""The ECS Fargate task: a per-customer summary of an orders CSV, as JSON."""
