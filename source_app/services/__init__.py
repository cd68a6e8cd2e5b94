"""What the public host does, below the views and above models, storage and crypto."""
