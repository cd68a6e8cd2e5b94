"""The data-protection file (``iblagh-officer privacy-file``), generated from the models."""
