"""Output formats, each built from a report object and nothing else."""
