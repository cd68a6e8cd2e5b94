"""Reading sealed reports and replying to reporters."""
