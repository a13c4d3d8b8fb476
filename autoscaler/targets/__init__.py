"""Targets out: what changes the size of a cluster (StatefulSet scale, Ansible playbooks)."""
