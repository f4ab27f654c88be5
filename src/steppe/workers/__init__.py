"""Work that runs beside the API: the broker events travel on, and its consumers."""
