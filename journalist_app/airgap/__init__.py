"""The air gap (docs/batch.md): the sync carried by hand in signed batch files.

- ``batch_files``: verifying, recording and writing batch files, for both directions;
- ``inbound``: the public host's submissions, exported on the connected machine and
  imported on the offline officer host;
- ``outbound``: acknowledgements and replies, exported on the officer host and
  uploaded from the connected machine;
- ``connected_host``: the kit that sets up the connected machine with the sync key only.

The ``iblagh-officer`` commands are in journalist_app/cli/airgap.py.
"""
