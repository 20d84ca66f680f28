"""Records which span a pushed model was trained on (the next runs' training baseline)."""
