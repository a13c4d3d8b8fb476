"""The Elasticsearch REST wire of the twin, one API family per module; ``routes`` wires them."""
