"""The file-system plumbing every tracefs file stands on: node kinds and modes,
the handles an open file gets, and seq_file.
"""
