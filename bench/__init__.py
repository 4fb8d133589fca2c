"""FarFlow's benchmarks: the operator on the local control plane (tests/controlplane) with
AWS as moto's server behind the recording proxy, printed as markdown tables.

`python -m bench [--quick] [ROW ...]`; `make bench` runs every row, `make bench QUICK=1` a
small version of each.
"""
