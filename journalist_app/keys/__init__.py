"""Key custody: officer-wrapped keys, grants, rotation, the keyring, recipient sets."""
