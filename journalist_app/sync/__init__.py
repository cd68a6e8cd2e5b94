"""Pulling from the public host: the pull, the signed transport client, the blob store."""
