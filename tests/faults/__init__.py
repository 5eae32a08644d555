"""Fault tolerance: crashes of connectors, the NATS server and apps; failing disks."""
