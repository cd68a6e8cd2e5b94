"""Officer accounts: creation and roles, login, second factor, passphrase policy."""
