"""tito: the TinyTorch command-line tool (learner, instructor and maintainer workflows)."""
