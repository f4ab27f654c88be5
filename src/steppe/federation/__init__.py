"""Federation: the TAXII 2.1 server and client, and sync between Steppe nodes."""
