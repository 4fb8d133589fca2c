"""What FarFlow runs inside the Airflow containers, whatever their image: small modules that
the operator ships in the ConfigMap <name>-runtime, mounted at RUNTIME_DIR and on every Airflow
container's PYTHONPATH. They import nothing of FarFlow (only the standard library and what
they check for), so they run in any Airflow image.

- farflow_probe: the probes of the DAG processor, triggerer and workers, cheap enough to run
  often in the smallest containers (no Airflow import);
- farflow_celery: imported by Celery workers (``[celery] extra_celery_config`` imports), it
  touches a heartbeat file from the worker's event loop, which the worker's probes read;
- farflow_preflight: the init container of workers and the migration Job, which names every
  module the configuration needs and the image lacks, and fails before anything starts;
- farflow_bootstrap: the init container of every Airflow pod when spec.airflow brings
  requirements, plugins or a startup script, which fetches them from S3 and installs them;
- farflow_startup: what an Airflow container runs first with a startup script: sources it,
  then becomes the component with what the script exported;
- farflow_metrics: the metrics collector's pod (spec.metrics), which takes the Airflow
  processes' OpenTelemetry metrics and writes them to CloudWatch, and serves them to
  Prometheus.
"""

from __future__ import annotations

from importlib.resources import files

RUNTIME_DIR = "/opt/farflow"
# farflow_bootstrap's emptyDir: the requirements (python/ on PYTHONPATH), the unpacked
# plugins and the startup script.
BOOTSTRAP_DIR = "/opt/farflow-bootstrap"
BOOTSTRAP_PYTHON = f"{BOOTSTRAP_DIR}/python"
BOOTSTRAP_PLUGINS = f"{BOOTSTRAP_DIR}/plugins"
BOOTSTRAP_SCRIPT = f"{BOOTSTRAP_DIR}/startup.sh"
MODULES = (
    "farflow_probe",
    "farflow_celery",
    "farflow_preflight",
    "farflow_bootstrap",
    "farflow_startup",
    "farflow_metrics",
)


def sources() -> dict[str, str]:
    """Each module's file name and source, as the ConfigMap carries them."""
    return {f"{name}.py": files(__package__).joinpath(f"{name}.py").read_text() for name in MODULES}
