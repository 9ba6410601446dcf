"""Tools that work on a mount from outside: the churn tool, the read-contract
checker, and the helpers that start and stop a daemon for tests and the
benchmark. They import the model and the file formats, never the daemon."""
