"""The e2e tier: real Airflow processes, PostgreSQL and moto (see conftest.py)."""
