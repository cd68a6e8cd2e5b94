"""Reading the audit log on the supervisors' page: translated event names and filters."""
