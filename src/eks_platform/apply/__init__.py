"""Side effects: AWS behind the narrow interfaces in ports.py, ordered as tasks that describe themselves."""
