"""Load benchmark of the public report form (`make bench`); see bench/README.md."""
