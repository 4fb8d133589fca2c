"""`farflow dev`: an AirflowCluster manifest run on this machine, through the operator's own
gather, plan and builders, with embedded PostgreSQL and AWS (moto's server), its components
as supervised processes (farflow.local), and its state under .farflow/dev/."""
