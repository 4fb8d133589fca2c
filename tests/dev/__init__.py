"""`farflow dev` as users run it: real Airflow processes, PostgreSQL and moto, marked e2e. A
folder of its own so it runs before tests/e2e, whose package-wide Airflow stack would
otherwise run idle beside every `farflow dev` cluster on this 2-core machine."""
