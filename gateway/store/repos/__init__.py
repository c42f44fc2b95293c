"""The state database's repositories, one module per feature (gateway/store/repository.py)."""
