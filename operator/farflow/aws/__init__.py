"""The AWS side of a cluster, through boto3: one module per service.

boto3 honours AWS_ENDPOINT_URL, which is how tests reach moto's server on loopback.
"""
