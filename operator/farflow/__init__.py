"""FarFlow: Apache Airflow 3 on AWS EKS Fargate, as a Kubernetes operator."""
